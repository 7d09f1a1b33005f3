//! Claimed jobs in groups, each carried out as one task of the runtime: a job alone, except a full rebuild's `simple_all`
//! and `project_all`, which one pass over the project rows carries out together, and a
//! package's `simple` and `project` (what `piw.rebuild('index', package)` and most changes to a
//! package queue), which one query of its project rows carries out together.

use std::collections::HashMap;

use crate::queue::{Job, JobKind};

/// Jobs carried out together, as one task of the runtime.
#[derive(Debug)]
pub enum JobGroup {
    One(Job),
    /// `simple_all` and `project_all`, claimed together (see `Executor::all_pages`).
    AllPages([Job; 2]),
    /// `simple` and `project` of this package, claimed together (see `Executor::package_pages`).
    PackagePages(String, [Job; 2]),
}

impl JobGroup {
    /// The claimed `jobs` in groups, in claim order; a `simple_all` and a `project_all` among them
    /// become one group, and so do a `simple` and a `project` of one package. Claimed apart (in two
    /// claims, say), each runs on its own: the same pages, from two queries.
    pub fn group(mut jobs: Vec<Job>) -> Vec<JobGroup> {
        let position = |jobs: &[Job], kind: JobKind| jobs.iter().position(|job| job.known_kind.as_ref() == Some(&kind));
        let mut groups = Vec::with_capacity(jobs.len());
        if let (Some(simple), Some(project)) = (position(&jobs, JobKind::SimpleAll), position(&jobs, JobKind::ProjectAll)) {
            // The later one first, so the earlier one's position still holds.
            let later = jobs.remove(simple.max(project));
            let earlier = jobs.remove(simple.min(project));
            groups.push(JobGroup::AllPages([earlier, later]));
        }
        // Each package's first simple job with its first project job (either may come first), in
        // the place of the earlier one.
        let mut waiting: HashMap<(&str, bool), usize> = HashMap::new();
        let mut partner: Vec<Option<usize>> = vec![None; jobs.len()];
        for (at, job) in jobs.iter().enumerate() {
            let Some((package, simple)) = package_page(job) else { continue };
            match waiting.remove(&(package, !simple)) {
                Some(first) => partner[first] = Some(at),
                None => {
                    waiting.entry((package, simple)).or_insert(at);
                }
            }
        }
        let mut slots: Vec<Option<Job>> = jobs.into_iter().map(Some).collect();
        for at in 0..slots.len() {
            let Some(job) = slots[at].take() else { continue };
            match partner[at].and_then(|second| slots[second].take()) {
                Some(second) => {
                    let package = package_page(&job).map_or_else(String::new, |(package, _)| package.to_owned());
                    groups.push(JobGroup::PackagePages(package, [job, second]));
                }
                None => groups.push(JobGroup::One(job)),
            }
        }
        groups
    }

    pub fn jobs(&self) -> &[Job] {
        match self {
            JobGroup::One(job) => std::slice::from_ref(job),
            JobGroup::AllPages(jobs) | JobGroup::PackagePages(_, jobs) => jobs,
        }
    }
}

/// The package of a job for one package's simple page (true) or project pages (false).
fn package_page(job: &Job) -> Option<(&str, bool)> {
    match &job.known_kind {
        Some(JobKind::Simple { package }) => Some((package, true)),
        Some(JobKind::Project { package }) => Some((package, false)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(id: i64, kind: JobKind) -> Job {
        Job { id, known_kind: Some(kind), kind: String::new(), package: String::new(), filename: String::new(), attempts: 1 }
    }

    fn ids(groups: &[JobGroup]) -> Vec<Vec<i64>> {
        groups.iter().map(|group| group.jobs().iter().map(|job| job.id).collect()).collect()
    }

    #[test]
    fn simple_all_and_project_all_become_one_task() {
        let groups = JobGroup::group(vec![
            job(1, JobKind::Home),
            job(2, JobKind::ProjectAll),
            job(3, JobKind::SimpleRoot),
            job(4, JobKind::SimpleAll),
        ]);
        assert_eq!(ids(&groups), [vec![2, 4], vec![1], vec![3]]);
        assert!(matches!(groups[0], JobGroup::AllPages(_)));
    }

    #[test]
    fn a_packages_simple_and_project_become_one_task_in_the_first_ones_place() {
        let simple = |package: &str| JobKind::Simple { package: package.into() };
        let project = |package: &str| JobKind::Project { package: package.into() };
        let groups = JobGroup::group(vec![
            job(1, project("foo")),
            job(2, simple("bar")),
            job(3, JobKind::Home),
            job(4, simple("foo")),
            job(5, project("baz")),
            job(6, project("bar")),
            job(7, project("foo")),
        ]);
        assert_eq!(ids(&groups), [vec![1, 4], vec![2, 6], vec![3], vec![5], vec![7]]);
        assert!(matches!(&groups[0], JobGroup::PackagePages(p, _) if p == "foo"));
        assert!(matches!(&groups[1], JobGroup::PackagePages(p, _) if p == "bar"));
        assert!(matches!(groups[4], JobGroup::One(_)), "a second project job of foo stays a task of its own");
    }

    #[test]
    fn either_alone_stays_a_task_of_its_own() {
        let groups = JobGroup::group(vec![job(1, JobKind::SimpleAll), job(2, JobKind::Simple { package: "foo".into() })]);
        assert_eq!(ids(&groups), [vec![1], vec![2]]);
        assert!(groups.iter().all(|group| matches!(group, JobGroup::One(_))));
        assert!(JobGroup::group(Vec::new()).is_empty());
    }
}

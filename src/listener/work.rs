//! Claimed jobs as the listener's tasks: one task per job, except a full rebuild's `simple_all`
//! and `project_all`, which one pass over the project rows carries out together, and a
//! package's `simple` and `project` (what `piw.rebuild('index', package)` and most changes to a
//! package queue), which one query of its project rows carries out together.

use std::collections::HashMap;

use crate::queue::{Job, Task};

/// What one task of the listener carries out.
#[derive(Debug)]
pub enum Work {
    One(Job),
    /// `simple_all` and `project_all`, claimed together (see `Executor::all_pages`).
    AllPages([Job; 2]),
    /// `simple` and `project` of this package, claimed together (see `Executor::package_pages`).
    PackagePages(String, [Job; 2]),
}

impl Work {
    /// The claimed `jobs` as tasks, in claim order; a `simple_all` and a `project_all` among them
    /// become one task, and so do a `simple` and a `project` of one package. Claimed apart (in two
    /// claims, say), each runs on its own: the same pages, from two queries.
    pub fn group(mut jobs: Vec<Job>) -> Vec<Work> {
        let position = |jobs: &[Job], task: Task| jobs.iter().position(|job| job.task.as_ref() == Some(&task));
        let mut works = Vec::with_capacity(jobs.len());
        if let (Some(simple), Some(project)) = (position(&jobs, Task::SimpleAll), position(&jobs, Task::ProjectAll)) {
            // The later one first, so the earlier one's position still holds.
            let later = jobs.remove(simple.max(project));
            let earlier = jobs.remove(simple.min(project));
            works.push(Work::AllPages([earlier, later]));
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
                    works.push(Work::PackagePages(package, [job, second]));
                }
                None => works.push(Work::One(job)),
            }
        }
        works
    }

    pub fn jobs(&self) -> &[Job] {
        match self {
            Work::One(job) => std::slice::from_ref(job),
            Work::AllPages(jobs) | Work::PackagePages(_, jobs) => jobs,
        }
    }
}

/// The package of a job for one package's simple page (true) or project pages (false).
fn package_page(job: &Job) -> Option<(&str, bool)> {
    match &job.task {
        Some(Task::Simple { package }) => Some((package, true)),
        Some(Task::Project { package }) => Some((package, false)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(id: i64, task: Task) -> Job {
        Job { id, task: Some(task), kind: String::new(), package: String::new(), filename: String::new(), attempts: 1 }
    }

    fn ids(works: &[Work]) -> Vec<Vec<i64>> {
        works.iter().map(|work| work.jobs().iter().map(|job| job.id).collect()).collect()
    }

    #[test]
    fn simple_all_and_project_all_become_one_task() {
        let works = Work::group(vec![job(1, Task::Home), job(2, Task::ProjectAll), job(3, Task::SimpleRoot), job(4, Task::SimpleAll)]);
        assert_eq!(ids(&works), [vec![2, 4], vec![1], vec![3]]);
        assert!(matches!(works[0], Work::AllPages(_)));
    }

    #[test]
    fn a_packages_simple_and_project_become_one_task_in_the_first_ones_place() {
        let simple = |package: &str| Task::Simple { package: package.into() };
        let project = |package: &str| Task::Project { package: package.into() };
        let works = Work::group(vec![
            job(1, project("foo")),
            job(2, simple("bar")),
            job(3, Task::Home),
            job(4, simple("foo")),
            job(5, project("baz")),
            job(6, project("bar")),
            job(7, project("foo")),
        ]);
        assert_eq!(ids(&works), [vec![1, 4], vec![2, 6], vec![3], vec![5], vec![7]]);
        assert!(matches!(&works[0], Work::PackagePages(p, _) if p == "foo"));
        assert!(matches!(&works[1], Work::PackagePages(p, _) if p == "bar"));
        assert!(matches!(works[4], Work::One(_)), "a second project job of foo stays a task of its own");
    }

    #[test]
    fn either_alone_stays_a_task_of_its_own() {
        let works = Work::group(vec![job(1, Task::SimpleAll), job(2, Task::Simple { package: "foo".into() })]);
        assert_eq!(ids(&works), [vec![1], vec![2]]);
        assert!(works.iter().all(|work| matches!(work, Work::One(_))));
        assert!(Work::group(Vec::new()).is_empty());
    }
}

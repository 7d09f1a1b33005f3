//! Claimed jobs as the listener's tasks: one task per job, except a full rebuild's `simple_all`
//! and `project_all`, which one pass over the project rows carries out together.

use crate::queue::{Job, Task};

/// What one task of the listener carries out.
#[derive(Debug)]
pub enum Work {
    One(Job),
    /// `simple_all` and `project_all`, claimed together (see `Executor::all_pages`).
    AllPages([Job; 2]),
}

impl Work {
    /// The claimed `jobs` as tasks, in claim order; a `simple_all` and a `project_all` among them
    /// become one task. Claimed apart (one free slot, say), each runs on its own: the same pages,
    /// from two queries.
    pub fn group(mut jobs: Vec<Job>) -> Vec<Work> {
        let position = |jobs: &[Job], task: Task| jobs.iter().position(|job| job.task.as_ref() == Some(&task));
        let mut works = Vec::with_capacity(jobs.len());
        if let (Some(simple), Some(project)) = (position(&jobs, Task::SimpleAll), position(&jobs, Task::ProjectAll)) {
            // The later one first, so the earlier one's position still holds.
            let later = jobs.remove(simple.max(project));
            let earlier = jobs.remove(simple.min(project));
            works.push(Work::AllPages([earlier, later]));
        }
        works.extend(jobs.into_iter().map(Work::One));
        works
    }

    pub fn jobs(&self) -> &[Job] {
        match self {
            Work::One(job) => std::slice::from_ref(job),
            Work::AllPages(jobs) => jobs,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(id: i64, task: Task) -> Job {
        Job { id, task: Some(task), kind: String::new(), attempts: 1 }
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
    fn either_alone_stays_a_task_of_its_own() {
        let works = Work::group(vec![job(1, Task::SimpleAll), job(2, Task::Simple { package: "foo".into() })]);
        assert_eq!(ids(&works), [vec![1], vec![2]]);
        assert!(works.iter().all(|work| matches!(work, Work::One(_))));
        assert!(Work::group(Vec::new()).is_empty());
    }
}

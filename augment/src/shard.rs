//! Splitting one run over many processes or machines: `--shard I/N`, or the
//! index a scheduler gives each task (Slurm array jobs, Kubernetes indexed
//! Jobs). Source image number `k` (in sorted order) belongs to shard `k % N`.

use crate::{Error, Result};
use std::fmt;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shard {
    /// 0-based.
    pub index: usize,
    pub count: usize,
}

impl Default for Shard {
    fn default() -> Self {
        Shard { index: 0, count: 1 }
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

impl Shard {
    pub fn new(index: usize, count: usize) -> Result<Self> {
        if count == 0 || index >= count {
            return Err(Error::Usage(format!("shard {index}/{count}: need 0 ≤ I < N (shards are numbered from 0)")));
        }
        Ok(Shard { index, count })
    }

    /// `I/N`.
    pub fn parse(s: &str) -> Result<Self> {
        let bad = || Error::Usage(format!("bad shard '{s}': expected I/N with 0 ≤ I < N, e.g. 0/4"));
        let (i, n) = s.split_once('/').ok_or_else(bad)?;
        Shard::new(i.trim().parse().map_err(|_| bad())?, n.trim().parse().map_err(|_| bad())?)
    }

    pub fn owns(&self, position: usize) -> bool {
        position % self.count == self.index
    }

    /// A file-name tag, e.g. `shard-02-of-16` (zero-padded so names sort).
    pub fn tag(&self) -> String {
        let w = (self.count.max(2) - 1).to_string().len();
        format!("shard-{:0w$}-of-{}", self.index, self.count)
    }

    /// The shard to run: `--shard` wins; otherwise a Slurm array task
    /// (`SLURM_ARRAY_TASK_ID` − `SLURM_ARRAY_TASK_MIN`, of `SLURM_ARRAY_TASK_COUNT`),
    /// or a Kubernetes indexed Job (`JOB_COMPLETION_INDEX`, of `shard_count`);
    /// otherwise the whole dataset. Returns where the shard came from.
    pub fn resolve(
        explicit: Option<&str>,
        shard_count: Option<usize>,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<(Self, &'static str)> {
        if let Some(s) = explicit {
            return Ok((Shard::parse(s)?, "--shard"));
        }
        let num = |name: &str| -> Result<Option<usize>> {
            match env(name) {
                None => Ok(None),
                Some(v) => v.trim().parse().map(Some).map_err(|_| Error::Usage(format!("{name}='{v}' is not a number"))),
            }
        };
        if let Some(id) = num("SLURM_ARRAY_TASK_ID")? {
            let min = num("SLURM_ARRAY_TASK_MIN")?.unwrap_or(0);
            let count = match shard_count {
                Some(n) => n,
                None => num("SLURM_ARRAY_TASK_COUNT")?.ok_or_else(|| {
                    Error::Usage("SLURM_ARRAY_TASK_ID is set but SLURM_ARRAY_TASK_COUNT is not: pass --shard-count N".into())
                })?,
            };
            let index = id.checked_sub(min).ok_or_else(|| Error::Usage(format!("SLURM_ARRAY_TASK_ID {id} < SLURM_ARRAY_TASK_MIN {min}")))?;
            return Ok((Shard::new(index, count)?, "Slurm array (SLURM_ARRAY_TASK_ID)"));
        }
        if let Some(index) = num("JOB_COMPLETION_INDEX")? {
            let count = shard_count.ok_or_else(|| {
                Error::Usage("JOB_COMPLETION_INDEX is set (Kubernetes indexed Job): pass --shard-count N, the Job's completions".into())
            })?;
            return Ok((Shard::new(index, count)?, "Kubernetes indexed Job (JOB_COMPLETION_INDEX)"));
        }
        if let Some(n) = shard_count {
            return Err(Error::Usage(format!(
                "--shard-count {n} given but no shard index: pass --shard I/{n} or run as a Slurm array / Kubernetes indexed Job"
            )));
        }
        Ok((Shard::default(), "whole dataset"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let m: HashMap<String, String> = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        move |k| m.get(k).cloned()
    }

    #[test]
    fn parses_and_partitions() {
        assert_eq!(Shard::parse("2/3").unwrap(), Shard { index: 2, count: 3 });
        assert!(Shard::parse("3/3").is_err());
        assert!(Shard::parse("1").is_err());
        let shards: Vec<Shard> = (0..3).map(|i| Shard::new(i, 3).unwrap()).collect();
        for k in 0..10 {
            assert_eq!(shards.iter().filter(|s| s.owns(k)).count(), 1);
        }
        assert_eq!(Shard::new(3, 12).unwrap().tag(), "shard-03-of-12");
    }

    #[test]
    fn reads_schedulers() {
        let (s, _) = Shard::resolve(None, None, env(&[("SLURM_ARRAY_TASK_ID", "5"), ("SLURM_ARRAY_TASK_MIN", "1"), ("SLURM_ARRAY_TASK_COUNT", "8")])).unwrap();
        assert_eq!(s, Shard { index: 4, count: 8 });
        let (s, _) = Shard::resolve(None, Some(4), env(&[("JOB_COMPLETION_INDEX", "3")])).unwrap();
        assert_eq!(s, Shard { index: 3, count: 4 });
        assert!(Shard::resolve(None, None, env(&[("JOB_COMPLETION_INDEX", "3")])).is_err());
        let (s, _) = Shard::resolve(Some("1/2"), None, env(&[("JOB_COMPLETION_INDEX", "3")])).unwrap();
        assert_eq!(s, Shard { index: 1, count: 2 });
        assert_eq!(Shard::resolve(None, None, env(&[])).unwrap().0, Shard::default());
    }
}

//! The terminal side of training, shared by `restyle train fast` and
//! `restyle train arbitrary`: a progress bar with the losses, Ctrl-C that
//! saves a checkpoint and stops (continue with `--resume`), and the speed.

use anyhow::Result;
use restyle_core::progress::{Control, Progress};
use restyle_core::train::{run_loop, TrainLoop};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// Trains `trainer` up to `steps` with [`run_loop`] (loss.csv and
/// checkpoints in `out_dir`), showing progress; a Ctrl-C is not an error.
pub fn train_with_bar(trainer: &mut impl TrainLoop, out_dir: &Path, steps: usize, checkpoint_every: usize) -> Result<()> {
    let start = trainer.step();
    let bar = indicatif::ProgressBar::new(steps as u64);
    bar.set_style(
        indicatif::ProgressStyle::with_template("{bar:30} {pos}/{len} [{elapsed_precise}<{eta_precise}] {msg}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    bar.set_position(start as u64);
    let stop = Arc::new(AtomicBool::new(false));
    let flag = stop.clone();
    let _ = ctrlc::set_handler(move || flag.store(true, Ordering::SeqCst));
    let t0 = std::time::Instant::now();
    let mut report = |p: &Progress| {
        bar.set_position(p.step as u64);
        let l: Vec<String> = p.losses.iter().map(|(k, v)| format!("{k} {v:.3e}")).collect();
        bar.set_message(l.join(" "));
        if stop.load(Ordering::SeqCst) { Control::Cancel } else { Control::Continue }
    };
    match run_loop(trainer, out_dir, steps, checkpoint_every, &mut report) {
        Ok(_) | Err(restyle_core::Error::Cancelled) => {}
        Err(e) => return Err(e.into()),
    }
    bar.finish();
    let done = trainer.step() - start;
    if done > 0 {
        let s = t0.elapsed().as_secs_f64();
        eprintln!("{done} steps in {s:.1} s ({:.2} s/step)", s / done as f64);
    }
    Ok(())
}

/// Warns about the content images the trainer dropped (undecodable), from
/// the `from`-th on; returns how many there are in all.
pub fn warn_skipped(pool: &restyle_core::train::ContentPool, from: usize) -> usize {
    for (p, reason) in pool.skipped.iter().skip(from) {
        eprintln!("warning: content image {} skipped: {reason}", p.display());
    }
    pool.skipped.len()
}

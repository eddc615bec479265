//! `restyle bench WHAT --sizes …`: our timings beside a peer measured in the
//! same run (`../shared/tools/peer_bench.py`), with the ratio (ours / peer;
//! below 1 means faster). Each variant adds its arm: a `BenchWhat` variant
//! and a function.

mod arbitrary;
mod common;
mod conv;
mod feed_forward;
mod flow;
mod gatys;
mod profile;
mod train;

use anyhow::Result;
pub use common::BenchArgs;
use common::{load_average, write_json, BenchWhat};
use feed_forward::feed_forward;
use gatys::{coarse_to_fine, gatys_step, quality};

/// `restyle bench all`: every row of the table in one run.
fn all(args: &BenchArgs) -> Result<()> {
    let load_before = load_average();
    let with = |sizes: &[usize]| BenchArgs { sizes: sizes.to_vec(), json: None, ..args.clone() };
    let mut rows = Vec::new();
    rows.extend(arbitrary::rows(&with(&[384]))?);
    rows.extend(feed_forward(&with(&[256, 512]), "multistyle26")?);
    rows.extend(feed_forward(&with(&[256, 512]), "fast")?);
    rows.extend(gatys_step(&with(&[128, 256, 512]))?);
    rows.extend(train::rows(&with(&[256]))?);
    println!("\n| work | size | restyle | GFLOP/s | peer | ratio |\n| --- | --- | --- | --- | --- | --- |");
    for r in &rows {
        let (peer, ratio) = match &r.peer {
            Some((n, p)) => (format!("{n} {:.0} ms", p * 1e3), format!("{:.2}", r.restyle_s / p)),
            None => ("–".into(), "–".into()),
        };
        println!("| {} | {} | {:.0} ms | {:.0} | {peer} | {ratio} |", r.work, r.size, r.restyle_s * 1e3, r.gflop / r.restyle_s, );
    }
    write_json(args, &rows, &load_before)
}

pub fn run(args: BenchArgs) -> Result<()> {
    let load_before = load_average();
    let rows = match args.what {
        BenchWhat::Gatys => gatys_step(&args)?,
        BenchWhat::Fast => feed_forward(&args, "fast")?,
        BenchWhat::Multistyle26 => feed_forward(&args, "multistyle26")?,
        BenchWhat::Arbitrary => arbitrary::rows(&args)?,
        BenchWhat::TrainFast => train::rows(&args)?,
        _ => return run_other(args),
    };
    write_json(&args, &rows, &load_before)
}

fn run_other(args: BenchArgs) -> Result<()> {
    match args.what {
        BenchWhat::All => all(&args),
        BenchWhat::Gatys | BenchWhat::Fast | BenchWhat::Multistyle26 | BenchWhat::Arbitrary | BenchWhat::TrainFast => unreachable!("handled by run"),
        BenchWhat::CoarseToFine => coarse_to_fine(&args),
        BenchWhat::Quality => quality(&args),
        BenchWhat::Conv => conv::run(&args),
        BenchWhat::Profile => profile::run(&args),
        BenchWhat::Flow => flow::run(&args),
    }
}

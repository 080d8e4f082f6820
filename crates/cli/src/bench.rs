//! `shige bench`: training throughput for a model shape on full-length batches, and the
//! latency of a warm 4-line poem.

use std::io::Write;
use std::time::Instant;

use anyhow::{Context, Result};
use clap::Args;
use shige_core::data::corpus::Poem;
use shige_core::training::{MAX_BATCH_SIZE, MAX_SEQ_LEN};
use shige_core::{CleaningConfig, Corpus, GenerateOptions, PoemForm, TrainConfig, Trainer, generate};

use crate::{DeviceChoice, ModelArgs, count, open_device_named, read_corpus};

/// Most timed or warm-up steps a bench runs: it cuts `batch_size * steps * 4` pieces of the corpus,
/// which must neither overflow nor take days.
const MAX_BENCH_STEPS: usize = 100_000;

#[derive(Args)]
pub struct BenchArgs {
    /// Corpus whose text and vocabulary the benchmark batches are cut from
    #[arg(long)]
    corpus: std::path::PathBuf,
    #[arg(long, value_enum, default_value = "cpu")]
    device: DeviceChoice,
    #[command(flatten)]
    model: ModelArgs,
    #[arg(long, default_value_t = 32, value_parser = count(1, MAX_BATCH_SIZE))]
    batch_size: usize,
    /// Sequence length of every batch (BOS + characters)
    #[arg(long, default_value_t = 64, value_parser = count(2, MAX_SEQ_LEN))]
    seq: usize,
    /// Timed steps
    #[arg(long, default_value_t = 10, value_parser = count(1, MAX_BENCH_STEPS))]
    steps: usize,
    /// Untimed steps first
    #[arg(long, default_value_t = 2, value_parser = count(0, MAX_BENCH_STEPS))]
    warmup: usize,
    #[arg(long, default_value_t = 2, value_parser = count(1, 1_000_000))]
    min_char_freq: usize,
    /// Print one JSON object instead of a sentence
    #[arg(long)]
    json: bool,
    /// Also write the corpus cut into `seq - 1`-character `title:content` lines, for running
    /// the same batches elsewhere (the browser benchmark)
    #[arg(long)]
    pieces_out: Option<std::path::PathBuf>,
}

pub fn run(args: BenchArgs) -> Result<()> {
    let shape = args.model.shape()?;
    let (device, adapter) = open_device_named(args.device)?;
    let steps = args.steps;
    let corpus = read_corpus(&args.corpus, &CleaningConfig::new().with_validation_share(0.0))?;
    // Cut the corpus text into pieces of exactly `seq - 1` characters so every batch is
    // [batch_size, seq] with no padding, like the peers' fixed-shape benchmarks.
    let text: Vec<char> = corpus.train.iter().flat_map(|p| p.content.iter().copied()).collect();
    let all_pieces = text.chunks_exact(args.seq - 1);
    if let Some(path) = &args.pieces_out {
        let mut out = std::io::BufWriter::new(
            std::fs::File::create(path).with_context(|| format!("creating {}", path.display()))?,
        );
        for piece in all_pieces.clone() {
            writeln!(out, "p:{}", piece.iter().collect::<String>())?;
        }
        out.flush()?;
    }
    let pieces: Vec<Poem> = all_pieces
        .take(args.batch_size * (steps + args.warmup) * 4)
        .map(|c| Poem { title: String::new(), content: c.to_vec() })
        .collect();
    let bench_corpus = Corpus { train: pieces, validation: Vec::new(), ..corpus.clone() };
    let config = TrainConfig::new()
        .with_batch_size(args.batch_size)
        .with_max_seq_len(args.seq)
        .with_min_char_freq(args.min_char_freq);
    // The vocabulary comes from the whole corpus, as in real training.
    let mut trainer = Trainer::new(&corpus, shape, config, &device)?;
    let data = std::sync::Arc::new(shige_core::EncodedCorpus::new(&bench_corpus, trainer.vocab.clone()));
    trainer = Trainer::with_state(data, trainer.model_config.clone(), trainer.config.clone(), trainer.state.clone(), &device);

    pollster::block_on(trainer.train_steps(args.warmup))?;
    let dispatches = count_dispatches(&mut trainer, args.device)?;
    let mut times = Vec::new();
    for _ in 0..steps {
        let t = Instant::now();
        pollster::block_on(trainer.train_steps(1))?;
        times.push(t.elapsed().as_secs_f64());
    }
    times.sort_by(f64::total_cmp);
    let median = times[times.len() / 2];
    let chars = (args.batch_size * args.seq) as f64;
    let poem_ms = warm_poem_ms(&trainer)?;
    if args.json {
        let figures = serde_json::json!({
            "peer": "shige", "device": format!("{:?}", args.device).to_lowercase(), "adapter": adapter,
            "cell": args.model.cell.name(), "model": args.model.describe(), "params": trainer.model_config.num_params(),
            "threads": std::thread::available_parallelism().map_or(1, |n| n.get()),
            "vocab": trainer.vocab.len(), "ms_per_step": median * 1e3, "chars_per_s": chars / median,
            "times_ms": times.iter().map(|t| (t * 1e4).round() / 10.0).collect::<Vec<_>>(),
            "poem_ms": poem_ms,
            "dispatches_per_step": dispatches.map(|d| d.0), "dispatches_per_char": dispatches.map(|d| d.1),
        });
        println!("{figures}");
        return Ok(());
    }
    println!(
        "device {:?} ({adapter}) | {} | {} parameters | vocab {} | batch {} x seq {} | median {:.1} ms/step | {:.0} chars/s (min {:.1} ms, max {:.1} ms over {} steps) | warm 七绝 {:.1} ms{}",
        args.device,
        args.model.describe(),
        trainer.model_config.num_params(),
        trainer.vocab.len(),
        args.batch_size,
        args.seq,
        median * 1e3,
        chars / median,
        times[0] * 1e3,
        times[times.len() - 1] * 1e3,
        times.len(),
        poem_ms,
        dispatches.map_or(String::new(), |(step, char)| format!(" | {step} dispatches/step, {char:.1} per generated character")),
    );
    Ok(())
}

/// Compute dispatches of one training step and per character of a 七绝, on the wgpu device.
#[cfg(feature = "wgpu")]
fn count_dispatches(trainer: &mut Trainer, device: DeviceChoice) -> Result<Option<(usize, f64)>> {
    if device != DeviceChoice::Wgpu {
        return Ok(None);
    }
    let counter = shige_core::kernels::dispatch::DispatchCount::start();
    pollster::block_on(trainer.train_steps(1))?;
    let per_step = counter.count();
    drop(counter);
    let model = trainer.model();
    let options = GenerateOptions { start: "月".into(), form: PoemForm::Qijue, seed: 99, ..Default::default() };
    let counter = shige_core::kernels::dispatch::DispatchCount::start();
    let poem = pollster::block_on(generate(&model, &trainer.vocab, &options))?;
    let per_char = counter.count() as f64 / (poem.chars().count() + 1) as f64;
    Ok(Some((per_step, per_char)))
}

#[cfg(not(feature = "wgpu"))]
fn count_dispatches(_: &mut Trainer, _: DeviceChoice) -> Result<Option<(usize, f64)>> {
    Ok(None)
}

/// Median time to write a 七绝 (4 lines) with the trained weights, after one warm-up poem.
fn warm_poem_ms(trainer: &Trainer) -> Result<f64> {
    let model = trainer.model();
    let mut options = GenerateOptions { start: "月".into(), form: PoemForm::Qijue, ..Default::default() };
    pollster::block_on(generate(&model, &trainer.vocab, &options))?;
    let mut times = Vec::new();
    for seed in 1..=5 {
        options.seed = seed;
        let t = Instant::now();
        pollster::block_on(generate(&model, &trainer.vocab, &options))?;
        times.push(t.elapsed().as_secs_f64() * 1e3);
    }
    times.sort_by(f64::total_cmp);
    Ok(times[2])
}

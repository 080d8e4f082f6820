//! `shige train`: the training loop with progress, periodic validation and checkpoints.

use std::collections::HashSet;
use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use shige_core::training::{Decay, MAX_BATCH_SIZE, MAX_SEQ_LEN, Schedule};
use shige_core::data::corpus::{CleaningConfig, Corpus};
use shige_core::{Checkpoint, Evaluation, TrainConfig, TrainError, Trainer};

fn parse_decay(s: &str) -> Result<Decay, String> {
    Decay::parse(s).ok_or_else(|| format!("unknown schedule {s:?}: use constant, linear or cosine"))
}

mod resume;

use resume::{refuse_fixed_flags, resume_changes, resume_refusal, say_changes};

use crate::{
    CorpusArgs, DeviceChoice, ModelArgs, check_writable, count, number, open_device, positive, read_checkpoint, read_corpus,
    steps, write_atomically,
};

/// Steps run between loss read-backs (and Ctrl-C checks).
const CHUNK: usize = 5;

/// The longest run `--epochs` and `--minutes` may ask for: far beyond any real run, while the
/// step count and the duration stay well inside `u64` and `Duration` (an infinite or NaN
/// request would panic there, or train nothing).
const MAX_EPOCHS: f64 = 1e6;
const MAX_MINUTES: f64 = 1e6;

/// The recipe that won the 30-minute search (BENCHMARKS.md, "The recipe search", `wsd`): a
/// higher peak learning rate with warm-up, held for 55 % of the run and then decayed linearly,
/// and dropout before the output layer (every run without it overfits). The library's
/// `TrainConfig` keeps 2e-3 and no dropout, the numerics checked against PyTorch.
const DEFAULT_LR: f64 = 3e-3;
const DEFAULT_OUTPUT_DROPOUT: f64 = 0.3;
/// The Transformer's: nanoGPT has no dropout before `lm_head` (its own is `--dropout`).
const TRANSFORMER_OUTPUT_DROPOUT: f64 = 0.0;

#[derive(Args)]
pub struct TrainArgs {
    #[command(flatten)]
    corpus: CorpusArgs,
    #[arg(long, value_enum, default_value = "cpu")]
    device: DeviceChoice,
    /// Train this many epochs (fractions allowed)
    #[arg(long, value_parser = positive(MAX_EPOCHS))]
    epochs: Option<f64>,
    /// Train for this many minutes instead
    #[arg(long, conflicts_with = "epochs", value_parser = positive(MAX_MINUTES))]
    minutes: Option<f64>,
    /// Continue from this checkpoint: its model, vocabulary, seed and corpus split are kept (a flag
    /// asking to change them is refused); --batch-size, --max-seq-len, --lr, --output-dropout and
    /// --grad-clip apply when given
    #[arg(long)]
    resume: Option<PathBuf>,
    /// Where checkpoints are written
    #[arg(long, default_value = "shige.ckpt")]
    out: PathBuf,
    /// Overwrite --out if it exists (without --resume)
    #[arg(long)]
    force: bool,
    /// Also export PyTorch-named weights and the vocabulary into this folder at the end
    #[arg(long)]
    export: Option<PathBuf>,
    /// Append `step,seconds,train_loss,val_loss` lines to this CSV file
    #[arg(long)]
    log: Option<PathBuf>,
    /// Validate every this many steps
    #[arg(long, default_value_t = 500, value_parser = steps(1))]
    eval_every: u64,
    /// Save a checkpoint every this many steps
    #[arg(long, default_value_t = 500, value_parser = steps(1))]
    save_every: u64,
    #[command(flatten)]
    model: ModelArgs,
    #[arg(long, default_value_t = 32, value_parser = count(1, MAX_BATCH_SIZE))]
    batch_size: usize,
    /// Longest sequence (BOS + characters); longer poems are truncated
    #[arg(long, default_value_t = 96, value_parser = count(2, MAX_SEQ_LEN))]
    max_seq_len: usize,
    /// Learning rate, the schedule's peak [default: 0.003; on --resume, the checkpoint's]
    #[arg(long, value_parser = positive(10.0))]
    lr: Option<f64>,
    /// How the learning rate falls over this run (epochs or minutes): constant, linear or cosine
    #[arg(long, default_value = "linear", value_parser = parse_decay)]
    schedule: Decay,
    /// Raise the learning rate linearly from 0 over this many steps first
    #[arg(long, default_value_t = 200)]
    warmup_steps: u64,
    /// Where a linear or cosine schedule ends, as a fraction of --lr
    #[arg(long, default_value_t = 0.05, value_parser = number(0.0, 1.0, true))]
    lr_final_ratio: f64,
    /// Hold the rate until this fraction of the run, then decay (0: decay over the whole run)
    #[arg(long, default_value_t = 0.55, value_parser = number(0.0, 1.0, false))]
    decay_from: f64,
    /// Dropout before the output layer while training, in [0, 1) [default: 0.3, the Transformer's
    /// 0; on --resume, the checkpoint's]
    #[arg(long, value_parser = number(0.0, 1.0, false))]
    output_dropout: Option<f64>,
    /// Largest global gradient norm (0: no clipping)
    #[arg(long, default_value_t = 1.0, value_parser = number(0.0, 1e6, true))]
    grad_clip: f64,
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Characters seen fewer times become UNK
    #[arg(long, default_value_t = 2, value_parser = count(1, 1_000_000))]
    min_char_freq: usize,
    /// More poems to train on, all of them (none held out), cleaned like --corpus. The
    /// validation split stays --corpus's own, so its figure is the one the page shows for it.
    /// Pass it again on --resume: batches follow the seed over the same poems.
    #[arg(long)]
    extra_train: Vec<PathBuf>,
}

/// `--corpus` with every `--extra-train` poem added to its training part, except the poems equal
/// (after cleaning) to one of its validation poems: a model that trained on those would be
/// measured on what it learnt.
fn read_training_corpus(args: &TrainArgs, cleaning: &CleaningConfig) -> Result<Corpus> {
    let mut corpus = read_corpus(&args.corpus.corpus, cleaning)?;
    let held_out: HashSet<Vec<char>> = corpus.validation.iter().map(|p| p.content.clone()).collect();
    for path in &args.extra_train {
        let mut extra = read_corpus(path, &cleaning.clone().with_validation_share(0.0))?;
        let found = extra.train.len();
        extra.train.retain(|p| !held_out.contains(&p.content));
        eprintln!(
            "{}: {} more training poems ({} dropped: equal to a validation poem of --corpus)",
            path.display(),
            extra.train.len(),
            found - extra.train.len()
        );
        corpus.train.extend(extra.train);
    }
    Ok(corpus)
}

/// Share of a resumed corpus's characters the checkpoint's vocabulary does not know, above
/// which `train --resume` warns that the corpus probably is not the one the model was trained on.
const UNKNOWN_WARNING: f64 = 0.2;

/// Refuses to start when an output cannot be written or would overwrite a model by accident.
fn check_outputs(args: &TrainArgs) -> Result<()> {
    if args.resume.is_none() && args.out.exists() && !args.force {
        bail!(
            "{} already exists; pass --resume {0} to continue it, --force to overwrite it, or another --out",
            args.out.display()
        );
    }
    check_writable(&args.out)?;
    if let Some(dir) = &args.export {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create the export folder {}", dir.display()))?;
        check_writable(&dir.join("model.safetensors"))?;
    }
    if let Some(log) = &args.log {
        check_writable(log)?;
    }
    Ok(())
}

/// `given`: the ids of the flags given on the command line (not left at their defaults), which
/// `--resume` applies or refuses.
pub fn run(args: TrainArgs, given: &[String]) -> Result<()> {
    let shape = args.model.shape()?;
    check_outputs(&args)?;
    let device = open_device(args.device)?;
    let mut trainer = match &args.resume {
        Some(path) => {
            let mut ckpt = read_checkpoint(path)?;
            refuse_fixed_flags(&args, given, &ckpt)?;
            let changes = resume_changes(&args, given);
            let config = changes.apply(&ckpt).map_err(|e| resume_refusal(path, &ckpt, &e))?;
            say_changes(&ckpt.train, &config, ckpt.progress.step);
            ckpt.train = config;
            let corpus = read_training_corpus(&args, &ckpt.cleaning)?;
            eprintln!("resuming {} at step {}: {}", path.display(), ckpt.progress.step, corpus.report);
            let unknown = ckpt.vocab.unknown_share(&corpus.train);
            if unknown > UNKNOWN_WARNING {
                eprintln!(
                    "warning: {:.0}% of this corpus's characters are not in the checkpoint's vocabulary; \
                     is it the corpus the model was trained on?",
                    unknown * 100.0
                );
            }
            shige_core::resume(&ckpt, &corpus, &device)
        }
        None => {
            let corpus = read_training_corpus(&args, &args.corpus.cleaning())?;
            eprintln!("{}", corpus.report);
            let config = TrainConfig::new()
                .with_batch_size(args.batch_size)
                .with_max_seq_len(args.max_seq_len)
                .with_learning_rate(args.lr.unwrap_or(DEFAULT_LR))
                .with_grad_clip(args.grad_clip)
                .with_output_dropout(args.output_dropout.unwrap_or(match shape.cell {
                    shige_core::Cell::Transformer => TRANSFORMER_OUTPUT_DROPOUT,
                    _ => DEFAULT_OUTPUT_DROPOUT,
                }))
                .with_seed(args.seed)
                .with_min_char_freq(args.min_char_freq);
            Trainer::new(&corpus, shape, config, &device)?
        }
    };
    eprintln!(
        "vocabulary {} tokens, {} parameters, {} batches per epoch",
        trainer.vocab.len(),
        trainer.model_config.num_params(),
        trainer.batches_per_epoch()
    );

    let interrupted = Arc::new(AtomicBool::new(false));
    let flag = interrupted.clone();
    ctrlc::set_handler(move || flag.store(true, Ordering::SeqCst)).context("cannot handle Ctrl-C")?;

    let start_step = trainer.state.step;
    let base_lr = trainer.config.learning_rate;
    let schedule = Schedule {
        decay: args.schedule,
        warmup_steps: args.warmup_steps,
        final_ratio: args.lr_final_ratio,
        decay_from: args.decay_from,
    };
    let budget = args.minutes.map(|m| Duration::from_secs_f64(m * 60.0));
    let total_steps = match (args.epochs, budget) {
        (Some(e), _) => Some((e * trainer.batches_per_epoch() as f64).ceil() as u64),
        (None, None) => Some(trainer.batches_per_epoch() as u64),
        (None, Some(_)) => None,
    };
    let bar = match (total_steps, budget) {
        (Some(n), _) => ProgressBar::new(n),
        (None, Some(b)) => ProgressBar::new(b.as_secs()),
        (None, None) => unreachable!("one of them is set above"),
    };
    bar.set_style(
        ProgressStyle::with_template("{bar:30} {pos}/{len} {elapsed_precise} ETA {eta_precise} {msg}")
            .expect("valid template"),
    );
    let mut log = match &args.log {
        Some(p) => Some(std::fs::OpenOptions::new().create(true).append(true).open(p)?),
        None => None,
    };

    let started = Instant::now();
    let start_tokens = trainer.state.tokens;
    let mut smoothed: Option<f32> = None;
    let mut last_val = f64::NAN;
    loop {
        let done = trainer.state.step - start_step;
        let finished = match (total_steps, budget) {
            (Some(n), _) => done >= n,
            (None, Some(b)) => started.elapsed() >= b,
            _ => true,
        };
        if finished || interrupted.load(Ordering::SeqCst) {
            break;
        }
        let n = total_steps.map_or(CHUNK, |t| CHUNK.min((t - done) as usize));
        // Share of this run done: by steps when counted, else by time.
        let progress = match (total_steps, budget) {
            (Some(t), _) => done as f64 / t.max(1) as f64,
            (None, Some(b)) => started.elapsed().as_secs_f64() / b.as_secs_f64(),
            _ => 0.0,
        };
        // The scheduled rate only while stepping: checkpoints keep the run's peak rate, so a
        // resumed run schedules from it again, not from where this one decayed to.
        trainer.config.learning_rate = schedule.lr(base_lr, done, progress);
        let stepped = pollster::block_on(trainer.train_steps(n));
        trainer.config.learning_rate = base_lr;
        let losses = match stepped {
            Ok(l) => l,
            Err(e) => {
                save(&trainer, &args.out)?;
                bail!("{e}; the model of step {} is saved in {}", trainer.state.step, args.out.display());
            }
        };
        for l in &losses {
            smoothed = Some(smoothed.map_or(*l, |s| 0.98 * s + 0.02 * l));
        }
        let step = trainer.state.step;
        if step % args.eval_every < n as u64
            && let Some(eval) = validate(&trainer)?
        {
            last_val = eval.loss;
            bar.println(format!(
                "step {step}: train loss {:.3}, validation loss {last_val:.3} (perplexity {:.1})",
                smoothed.unwrap_or(f32::NAN),
                last_val.exp()
            ));
        }
        if let Some(f) = log.as_mut() {
            writeln!(f, "{step},{:.1},{:.4},{last_val:.4}", started.elapsed().as_secs_f64(), losses[losses.len() - 1])?;
        }
        if step % args.save_every < n as u64 {
            save(&trainer, &args.out)?;
        }
        let rate = (trainer.state.tokens - start_tokens) as f64 / started.elapsed().as_secs_f64();
        bar.set_message(format!(
            "loss {:.3} | {rate:.0} chars/s | epoch {:.2}",
            smoothed.unwrap_or(f32::NAN),
            trainer.epochs_done()
        ));
        match budget {
            Some(b) if total_steps.is_none() => bar.set_position(started.elapsed().min(b).as_secs()),
            _ => bar.set_position(trainer.state.step - start_step),
        }
    }
    bar.finish();
    let eval = match validate(&trainer)? {
        Some(e) => format!("validation loss {:.4} nats/char (perplexity {:.2})", e.loss, e.perplexity),
        None => "no held-out poems".to_string(),
    };
    save(&trainer, &args.out)?;
    let secs = started.elapsed().as_secs_f64();
    println!(
        "step {}: {eval}; {} steps in {secs:.0} s, {:.0} chars/s{}; saved {}",
        trainer.state.step,
        trainer.state.step - start_step,
        (trainer.state.tokens - start_tokens) as f64 / secs,
        if interrupted.load(Ordering::SeqCst) { " (interrupted)" } else { "" },
        args.out.display()
    );
    if let Some(dir) = &args.export {
        export(&trainer, dir)?;
        println!("exported PyTorch weights to {}", dir.display());
    }
    Ok(())
}

/// Held-out evaluation; `None` when the corpus has no validation poems.
fn validate(trainer: &Trainer) -> Result<Option<Evaluation>> {
    match pollster::block_on(trainer.evaluate()) {
        Ok(e) => Ok(Some(e)),
        Err(TrainError::NoValidation) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

fn save(trainer: &Trainer, path: &std::path::Path) -> Result<()> {
    let ckpt = pollster::block_on(Checkpoint::capture(trainer))?;
    write_atomically(path, &ckpt.to_bytes())
}

fn export(trainer: &Trainer, dir: &std::path::Path) -> Result<()> {
    let ckpt = pollster::block_on(Checkpoint::capture(trainer))?;
    crate::export::write_export(&ckpt, dir)
}

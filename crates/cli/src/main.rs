//! `shige`: train, generate, evaluate and benchmark poem models from the terminal.

mod bench;
mod export;
mod meter;
mod shape;
mod train;

pub use shape::ModelArgs;

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use burn::tensor::Device;
use clap::parser::ValueSource;
use clap::{ArgMatches, Args, CommandFactory, FromArgMatches, Parser, Subcommand, ValueEnum};
use shige_core::{Checkpoint, CleaningConfig, Corpus, GenerateOptions, PoemForm, generate, load_corpus};
pub use shige_prepare::write_atomically;

#[derive(Parser)]
#[command(name = "shige", version, about = "诗歌 — train a character-level language model (GRU, LSTM, RNN or Transformer) on classical Chinese poems and write new ones")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Train a model on a poem corpus (or resume one), saving checkpoints as it goes.
    Train(train::TrainArgs),
    /// Write poems from a trained model, one per start character.
    Generate(GenerateArgs),
    /// Held-out perplexity and the share of generated poems that are well-formed 五/七言 verse.
    Eval(EvalArgs),
    /// Measure training speed (characters per second) for a model shape; prints, never asserts.
    Bench(bench::BenchArgs),
    /// Build a simplified-Chinese `title:content` corpus from the chinese-poetry JSON files.
    Prepare(shige_prepare::PrepareArgs),
    /// Write a compact copy of a checkpoint for shipping: f16 or int8 weights, no optimizer state.
    Compact(CompactArgs),
    /// Write a checkpoint's weights under PyTorch's names (nanoGPT's for the Transformer), with
    /// config.json and vocab.json.
    Export(export::ExportArgs),
    /// A model's logits over texts, as JSON (for the PyTorch checks in bench/).
    #[command(hide = true)]
    Logits(export::LogitsArgs),
    /// Check a poem's 格律 (平水韵, 平仄, 粘对); exits 0 when it passes, 1 when it breaks a rule, 2 on bad input.
    Meter(meter::MeterArgs),
}

#[derive(Args)]
struct CompactArgs {
    /// Checkpoint written by `shige train`
    #[arg(long)]
    model: PathBuf,
    /// Where the compact copy goes
    #[arg(long)]
    out: PathBuf,
    /// f16, or int8 (one scale per row)
    #[arg(long, default_value = "f16", value_parser = parse_weights)]
    weights: shige_core::training::checkpoint::Weights,
}

fn parse_weights(s: &str) -> Result<shige_core::training::checkpoint::Weights, String> {
    shige_core::training::checkpoint::Weights::parse(s).ok_or_else(|| format!("unknown weights {s:?}: use f32, f16 or int8"))
}

fn run_compact(args: CompactArgs) -> Result<()> {
    check_writable(&args.out)?;
    let ckpt = read_checkpoint(&args.model)?;
    let bytes = ckpt.to_compact_bytes(args.weights);
    write_atomically(&args.out, &bytes)?;
    println!(
        "{}: {} parameters as {} in {} bytes ({:.2} MiB); the full checkpoint is {} bytes",
        args.out.display(),
        ckpt.model.num_params(),
        args.weights.name(),
        bytes.len(),
        bytes.len() as f64 / (1 << 20) as f64,
        std::fs::metadata(&args.model).map(|m| m.len()).unwrap_or(0)
    );
    Ok(())
}

#[derive(Clone, Copy, ValueEnum, PartialEq, Eq, Debug)]
pub enum DeviceChoice {
    /// burn's CPU backend (flex)
    Cpu,
    /// burn's wgpu backend (GPU through Vulkan/Metal/DX12)
    Wgpu,
}

/// Opens the device, turning a missing GPU into an error instead of a panic.
pub fn open_device(choice: DeviceChoice) -> Result<Device> {
    Ok(open_device_named(choice)?.0)
}

/// The device and what it runs on ("cpu", or the GPU adapter's name and driver).
pub fn open_device_named(choice: DeviceChoice) -> Result<(Device, String)> {
    match choice {
        DeviceChoice::Cpu => Ok((Device::flex(), "cpu".to_string())),
        DeviceChoice::Wgpu => open_wgpu(),
    }
}

#[cfg(feature = "wgpu")]
fn open_wgpu() -> Result<(Device, String)> {
    let (device, setup) = Device::wgpu_options()
        .init_with_setup()
        .map_err(|e| anyhow::anyhow!("no usable GPU adapter for wgpu ({e}); use --device cpu"))?;
    let info = setup.adapter.get_info();
    Ok((device, format!("{} ({:?}, {})", info.name, info.device_type, info.driver)))
}

#[cfg(not(feature = "wgpu"))]
fn open_wgpu() -> Result<(Device, String)> {
    anyhow::bail!("this build has no wgpu support; use --device cpu")
}

/// How to read the corpus: the cleaning and split settings.
#[derive(Args, Clone)]
pub struct CorpusArgs {
    /// Poem file: `title:content` per line, or poems separated by blank lines (UTF-8)
    #[arg(long)]
    pub corpus: PathBuf,
    /// Fewest characters a poem may have
    #[arg(long, default_value_t = 5, value_parser = count(1, 100_000))]
    pub min_chars: usize,
    /// Most characters a poem may have
    #[arg(long, default_value_t = 80, value_parser = count(1, 100_000))]
    pub max_chars: usize,
    /// Share of poems held out for validation, in [0, 1)
    #[arg(long, default_value_t = 0.05, value_parser = number(0.0, 1.0, false))]
    pub validation_share: f64,
    /// Seed of the train/validation split
    #[arg(long, default_value_t = 42)]
    pub split_seed: u64,
}

impl CorpusArgs {
    pub fn cleaning(&self) -> CleaningConfig {
        CleaningConfig::new()
            .with_min_chars(self.min_chars)
            .with_max_chars(self.max_chars)
            .with_validation_share(self.validation_share)
            .with_split_seed(self.split_seed)
    }
}

/// A parser for a whole number in `lo..=hi`.
pub fn count(lo: usize, hi: usize) -> impl Fn(&str) -> Result<usize, String> + Clone {
    move |s| match s.trim().parse::<usize>() {
        Ok(n) if (lo..=hi).contains(&n) => Ok(n),
        Ok(n) => Err(format!("{n} is out of range: use {lo} to {hi}")),
        Err(_) => Err(format!("{s:?} is not a whole number")),
    }
}

/// A parser for a step count of at least `lo` (a period of 0 steps would divide by zero).
pub fn steps(lo: u64) -> impl Fn(&str) -> Result<u64, String> + Clone {
    move |s| match s.trim().parse::<u64>() {
        Ok(n) if n >= lo => Ok(n),
        Ok(n) => Err(format!("{n} is out of range: use {lo} or more")),
        Err(_) => Err(format!("{s:?} is not a whole number")),
    }
}

/// A parser for a finite number in `[lo, hi]` (`[lo, hi)` when `hi_included` is false).
/// NaN and infinities never get through: they would be saved as JSON `null`.
pub fn number(lo: f64, hi: f64, hi_included: bool) -> impl Fn(&str) -> Result<f64, String> + Clone {
    move |s| {
        let x: f64 = s.trim().parse().map_err(|_| format!("{s:?} is not a number"))?;
        let above = if hi_included { x > hi } else { x >= hi };
        if !x.is_finite() || x < lo || above {
            let end = if hi_included { ']' } else { ')' };
            return Err(format!("{s} is out of range: use a number in [{lo}, {hi}{end}"));
        }
        Ok(x)
    }
}

/// A parser for a finite number above `lo` and at most `hi`.
pub fn positive(hi: f64) -> impl Fn(&str) -> Result<f64, String> + Clone {
    move |s| {
        let x: f64 = s.trim().parse().map_err(|_| format!("{s:?} is not a number"))?;
        if !(x.is_finite() && x > 0.0 && x <= hi) {
            return Err(format!("{s} is out of range: use a number above 0 and at most {hi}"));
        }
        Ok(x)
    }
}

/// Reads a file of at most `limit` bytes, checking the size before reading all of it
/// (a device such as /dev/zero has no size and never ends).
pub fn read_limited(path: &Path, limit: usize) -> Result<Vec<u8>> {
    use std::io::Read;
    let file = std::fs::File::open(path).with_context(|| format!("cannot read {}", path.display()))?;
    let too_big = || anyhow::anyhow!("{} is larger than the limit of {} MiB", path.display(), limit >> 20);
    if file.metadata().is_ok_and(|m| m.len() > limit as u64) {
        return Err(too_big());
    }
    let mut bytes = Vec::new();
    file.take(limit as u64 + 1).read_to_end(&mut bytes).with_context(|| format!("cannot read {}", path.display()))?;
    if bytes.len() > limit {
        return Err(too_big());
    }
    Ok(bytes)
}

pub fn read_corpus(path: &Path, cleaning: &CleaningConfig) -> Result<Corpus> {
    let bytes = read_limited(path, shige_core::data::corpus::MAX_CORPUS_BYTES)?;
    load_corpus(&bytes, cleaning).with_context(|| format!("{}", path.display()))
}

/// Largest checkpoint read (a model at the size limits with its Adam moments fits).
const MAX_CHECKPOINT_BYTES: usize = 4 << 30;

pub fn read_checkpoint(path: &Path) -> Result<Checkpoint> {
    let bytes = read_limited(path, MAX_CHECKPOINT_BYTES)?;
    Checkpoint::from_bytes(&bytes).with_context(|| format!("{}", path.display()))
}

/// Checks that `path` can be written before any work is done, naming it if not.
pub fn check_writable(path: &Path) -> Result<()> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    if path.is_dir() {
        anyhow::bail!("{} is a folder, not a file", path.display());
    }
    let probe = dir.join(format!(".shige-write-test-{}", std::process::id()));
    std::fs::write(&probe, b"")
        .with_context(|| format!("cannot write {} (its folder {} is not writable or does not exist)", path.display(), dir.display()))?;
    let _ = std::fs::remove_file(&probe);
    if path.exists() && std::fs::OpenOptions::new().append(true).open(path).is_err() {
        anyhow::bail!("cannot write {}: the file is read-only", path.display());
    }
    Ok(())
}

#[derive(Args, Clone)]
pub struct SamplingArgs {
    /// 0 picks the most likely character every time
    #[arg(long, default_value_t = 0.8, value_parser = number(0.0, 100.0, true))]
    temperature: f64,
    /// Sample only among the k most likely characters (0: all)
    #[arg(long, default_value_t = 0)]
    top_k: usize,
    /// Sample from the smallest set of characters whose probability reaches p (1: all)
    // 0.9 and the penalty 1.2 below: chosen by `shige eval --sampling-sweep` (BENCHMARKS.md).
    // Above 0: the sampler takes 0 as "off" (all characters), the opposite of what it reads as.
    #[arg(long, default_value_t = 0.9, value_parser = positive(1.0))]
    top_p: f64,
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// free, wujue (五绝), qijue (七绝), wulv (五律) or qilv (七律)
    #[arg(long, default_value = "free", value_parser = parse_form)]
    form: PoemForm,
    /// Most characters in a free poem
    #[arg(long, default_value_t = 80, value_parser = count(1, MAX_POEM_CHARS))]
    max_chars: usize,
    /// 绝句/律诗: end the even lines in one rhyme group (中华新韵)
    #[arg(long)]
    rhyme: bool,
    /// 绝句/律诗 as regulated verse: each character takes the pattern's 平仄 and the even lines
    /// rhyme in one level-tone 平水韵 group (replaces --rhyme)
    #[arg(long)]
    meter: bool,
    /// Make characters already in the poem less likely (1: off)
    #[arg(long, default_value_t = 1.2, value_parser = number(1.0, 10.0, true))]
    repetition_penalty: f64,
}

/// Longest free poem `--max-chars` may ask for: 0 wrote the start character alone, and a
/// figure near `usize::MAX` overflowed the sampler's step count.
const MAX_POEM_CHARS: usize = 10_000;

fn parse_form(s: &str) -> Result<PoemForm, String> {
    PoemForm::parse(s).ok_or_else(|| format!("unknown form {s:?}: use free, wujue, qijue, wulv or qilv"))
}

impl SamplingArgs {
    fn options(&self, start: String, acrostic: String) -> GenerateOptions {
        GenerateOptions {
            start,
            temperature: self.temperature as f32,
            top_k: self.top_k,
            top_p: self.top_p as f32,
            seed: self.seed,
            form: self.form,
            acrostic,
            max_chars: self.max_chars,
            rhyme: self.rhyme,
            meter: self.meter,
            repetition_penalty: self.repetition_penalty as f32,
        }
    }
}

#[derive(Args)]
struct GenerateArgs {
    /// Checkpoint written by `shige train`
    #[arg(long)]
    model: PathBuf,
    /// Start characters: one poem begins with each (e.g. 日红山夜湖海月)
    #[arg(long, default_value = "日红山夜湖海月")]
    start: String,
    /// A whole opening to continue instead (e.g. 床前明月光)
    #[arg(long, conflicts_with = "start")]
    prefix: Option<String>,
    /// 藏头诗: each line starts with the next of these characters
    #[arg(long, conflicts_with_all = ["start", "prefix"])]
    acrostic: Option<String>,
    #[command(flatten)]
    sampling: SamplingArgs,
}

fn run_generate(args: GenerateArgs) -> Result<()> {
    let blank = |s: &str| s.chars().all(char::is_whitespace);
    if blank(&args.start) || args.prefix.as_deref().is_some_and(blank) || args.acrostic.as_deref().is_some_and(blank) {
        anyhow::bail!("give at least one start character (--start, --prefix or --acrostic is empty)");
    }
    let ckpt = read_checkpoint(&args.model)?;
    let device = Device::flex();
    let model = ckpt.model.from_params(ckpt.train_state(&device).params);
    let requests: Vec<(String, String)> = match (&args.prefix, &args.acrostic) {
        (Some(prefix), _) => vec![(prefix.clone(), String::new())],
        (_, Some(acrostic)) => vec![(String::new(), acrostic.clone())],
        _ => args.start.chars().filter(|c| !c.is_whitespace()).map(|c| (c.to_string(), String::new())).collect(),
    };
    for (start, acrostic) in requests {
        let options = args.sampling.options(start.clone(), acrostic);
        let poem = pollster::block_on(generate(&model, &ckpt.vocab, &options))?;
        println!("{poem}");
    }
    Ok(())
}

#[derive(Args)]
struct EvalArgs {
    /// Checkpoint written by `shige train` (or a compact copy)
    #[arg(long)]
    model: PathBuf,
    /// Corpus to measure held-out loss on (its validation split, as in training)
    #[arg(long)]
    corpus: PathBuf,
    /// Measure on every poem of --corpus (a held-out set such as Song poems), not its split
    #[arg(long)]
    whole: bool,
    /// The corpus the model was trained on, for the copy figures [default: --corpus]
    #[arg(long)]
    train_corpus: Option<PathBuf>,
    /// Poems to write for each figure (free, 五绝, 七绝, 七绝 with rhyme); 0 skips them
    #[arg(long, default_value_t = 100)]
    samples: usize,
    /// Also try sampling settings (temperature x top-p x repetition penalty) and print a row each
    #[arg(long)]
    sampling_sweep: bool,
    /// Print one JSON object
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    sampling: SamplingArgs,
}

fn run_eval(args: EvalArgs) -> Result<()> {
    let ckpt = read_checkpoint(&args.model)?;
    let mut cleaning = ckpt.cleaning.clone();
    if args.whole {
        cleaning.validation_share = 1.0;
    }
    let corpus = read_corpus(&args.corpus, &cleaning)?;
    let device = Device::flex();
    let trainer = shige_core::resume(&ckpt, &corpus, &device);
    let eval = pollster::block_on(trainer.evaluate())?;
    let unknown = ckpt.vocab.unknown_share(&corpus.validation);
    let mut report = serde_json::json!({
        "model": args.model.display().to_string(), "step": ckpt.progress.step, "params": ckpt.model.num_params(),
        "heldOutLoss": eval.loss, "heldOutPerplexity": eval.perplexity, "heldOutChars": eval.tokens,
        "heldOutPoems": corpus.validation.len(), "unknownShare": unknown,
    });
    if args.samples > 0 || args.sampling_sweep {
        let train = match &args.train_corpus {
            Some(path) => read_corpus(path, &ckpt.cleaning)?,
            None if args.whole => anyhow::bail!("--whole measures another corpus: give --train-corpus for the copy figures, or --samples 0"),
            None => corpus.clone(),
        };
        let index = shige_core::eval::novelty::CopyIndex::new(train.train.iter().map(|p| p.content.as_slice()));
        let model = trainer.model();
        let started = std::time::Instant::now();
        let now = move || started.elapsed().as_secs_f64() * 1e3;
        let base = args.sampling.options(String::new(), String::new());
        let samples = args.samples.max(1);
        let quality = pollster::block_on(shige_core::eval::quality::measure(&model, &ckpt.vocab, &index, &base, samples, &now))?;
        report["quality"] = serde_json::to_value(quality)?;
        if args.sampling_sweep {
            let mut rows = Vec::new();
            for temperature in [0.6f32, 0.7, 0.8, 0.9, 1.0] {
                for top_p in [0.9f32, 0.95, 1.0] {
                    for repetition_penalty in [1.0f32, 1.2] {
                        let options = GenerateOptions { temperature, top_p, repetition_penalty, ..base.clone() };
                        let q = pollster::block_on(shige_core::eval::quality::measure(&model, &ckpt.vocab, &index, &options, samples, &now))?;
                        rows.push(serde_json::json!({ "temperature": temperature, "topP": top_p, "repetitionPenalty": repetition_penalty, "quality": q }));
                    }
                }
            }
            report["sweep"] = serde_json::Value::Array(rows);
        }
    }
    if args.json {
        println!("{report}");
    } else {
        print_eval(&report, &args);
    }
    Ok(())
}

/// The eval report as one Markdown table (and the sweep as another).
fn print_eval(r: &serde_json::Value, args: &EvalArgs) {
    let pct = |v: &serde_json::Value| format!("{:.1}%", v.as_f64().unwrap_or(f64::NAN) * 100.0);
    println!("| figure | value |\n|---|---|");
    println!("| model | {} (step {}, {} parameters) |", r["model"].as_str().unwrap_or(""), r["step"], r["params"]);
    println!(
        "| held-out loss | {:.4} nats/char ({} poems, {} characters{}) |",
        r["heldOutLoss"].as_f64().unwrap_or(f64::NAN),
        r["heldOutPoems"],
        r["heldOutChars"],
        if args.whole { ", the whole corpus" } else { "" }
    );
    println!("| held-out perplexity | {:.2} |", r["heldOutPerplexity"].as_f64().unwrap_or(f64::NAN));
    println!("| characters unknown to the model | {} |", pct(&r["unknownShare"]));
    let Some(q) = r.get("quality") else { return };
    let s = &args.sampling;
    println!("| sampling | temperature {}, top-p {}, top-k {}, repetition penalty {}, {} poems per figure |", s.temperature, s.top_p, s.top_k, s.repetition_penalty, q["samples"]);
    println!("| well-formed 五/七言 (free poems) | {} |", pct(&q["wellFormed"]));
    println!("| rhyme rate 五绝 / 七绝 | {} / {} |", pct(&q["rhymeWujue"]), pct(&q["rhymeQijue"]));
    println!("| rhyme rate 七绝 with rhyme-constrained decoding | {} |", pct(&q["rhymeQijueConstrained"]));
    println!(
        "| 格律 pass rate (平水韵, 平仄, 粘对): free / 七绝 / 七绝 with --meter | {} / {} / {} |",
        pct(&q["meterFree"]),
        pct(&q["meterQijue"]),
        pct(&q["meterQijueConstrained"])
    );
    println!("| longest run copied from a training poem (mean / most) | {:.1} / {} characters |", q["copiedMean"].as_f64().unwrap_or(0.0), q["copiedMax"]);
    println!("| poems holding a whole training line | {} |", pct(&q["copiesALine"]));
    println!("| repeated characters within a poem | {} |", pct(&q["repeated"]));
    println!("| generation speed | {:.0} characters/s |", q["charsPerSecond"].as_f64().unwrap_or(0.0));
    if let Some(rows) = r["sweep"].as_array() {
        println!("\n| temperature | top-p | penalty | well-formed | rhyme 五绝 | copied (mean) | whole line copied | repeated |\n|---|---|---|---|---|---|---|---|");
        for row in rows {
            let q = &row["quality"];
            println!(
                "| {:.2} | {:.2} | {:.2} | {} | {} | {:.1} | {} | {} |",
                row["temperature"].as_f64().unwrap_or(f64::NAN),
                row["topP"].as_f64().unwrap_or(f64::NAN),
                row["repetitionPenalty"].as_f64().unwrap_or(f64::NAN),
                pct(&q["wellFormed"]),
                pct(&q["rhymeWujue"]),
                q["copiedMean"].as_f64().unwrap_or(0.0), pct(&q["copiesALine"]), pct(&q["repeated"])
            );
        }
    }
}

/// Keeps freed tensor buffers in the heap. A training step allocates and frees tens of
/// 50 MB tensors (the logits and their gradients); glibc would map each one fresh from the
/// kernel and fault in every page, which cost a third of the step's time.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn keep_large_allocations() {
    // SAFETY: mallopt only changes glibc's allocation thresholds; called before any thread.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, i32::MAX);
        libc::mallopt(libc::M_TRIM_THRESHOLD, i32::MAX);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn keep_large_allocations() {}

/// The ids of `subcommand`'s flags given on the command line, as opposed to left at their
/// defaults (e.g. `max_seq_len`): `train --resume` applies or refuses each of them.
fn given_flags(matches: &ArgMatches, subcommand: &str) -> Vec<String> {
    let Some(m) = matches.subcommand_matches(subcommand) else { return Vec::new() };
    m.ids().filter(|id| m.value_source(id.as_str()) == Some(ValueSource::CommandLine)).map(|id| id.to_string()).collect()
}

fn main() {
    keep_large_allocations();
    let matches = Cli::command().get_matches();
    let cli = Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
    let result = match cli.command {
        Command::Train(args) => train::run(args, &given_flags(&matches, "train")),
        Command::Generate(args) => run_generate(args),
        Command::Eval(args) => run_eval(args),
        Command::Bench(args) => bench::run(args),
        Command::Prepare(args) => shige_prepare::run(args),
        Command::Compact(args) => run_compact(args),
        Command::Export(args) => export::run(args),
        Command::Logits(args) => export::run_logits(args),
        Command::Meter(args) => std::process::exit(meter::run(args)),
    };
    if let Err(e) = result {
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}

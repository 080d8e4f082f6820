//! `shige`: train, generate, evaluate and benchmark poem models from the terminal.

mod bench;
mod prepare;
mod train;

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use burn::tensor::Device;
use clap::{Args, Parser, Subcommand, ValueEnum};
use shige_core::{Checkpoint, CleaningConfig, Corpus, GenerateOptions, PoemForm, generate, load_corpus};

#[derive(Parser)]
#[command(name = "shige", version, about = "诗歌 — train a character-level GRU on classical Chinese poems and write new ones")]
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
    Prepare(prepare::PrepareArgs),
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
    match choice {
        DeviceChoice::Cpu => Ok(Device::flex()),
        DeviceChoice::Wgpu => open_wgpu(),
    }
}

#[cfg(feature = "wgpu")]
fn open_wgpu() -> Result<Device> {
    Device::wgpu_options()
        .init()
        .map_err(|e| anyhow::anyhow!("no usable GPU adapter for wgpu ({e}); use --device cpu"))
}

#[cfg(not(feature = "wgpu"))]
fn open_wgpu() -> Result<Device> {
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
    let bytes = read_limited(path, shige_core::corpus::MAX_CORPUS_BYTES)?;
    load_corpus(&bytes, cleaning).with_context(|| format!("{}", path.display()))
}

/// Largest checkpoint read (a model at the size limits with its Adam moments fits).
const MAX_CHECKPOINT_BYTES: usize = 4 << 30;

pub fn read_checkpoint(path: &Path) -> Result<Checkpoint> {
    let bytes = read_limited(path, MAX_CHECKPOINT_BYTES)?;
    Checkpoint::from_bytes(&bytes).with_context(|| format!("{}", path.display()))
}

/// Writes through a temporary file and a rename, so a crash never leaves half a checkpoint.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, bytes).with_context(|| format!("cannot write {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("cannot write {}", path.display()))
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

fn parse_cell(s: &str) -> Result<shige_core::Cell, String> {
    shige_core::Cell::parse(s).ok_or_else(|| format!("unknown cell {s:?}: use rnn, lstm or gru"))
}

/// The model's shape (vocabulary size comes from the corpus).
#[derive(Args, Clone)]
pub struct ModelArgs {
    /// Recurrent cell: rnn (tanh), lstm or gru, with PyTorch's semantics
    #[arg(long, default_value = "gru", value_parser = parse_cell)]
    pub cell: shige_core::Cell,
    #[arg(long, default_value_t = 128, value_parser = count(1, shige_core::model::MAX_WIDTH))]
    pub embedding: usize,
    #[arg(long, default_value_t = 256, value_parser = count(1, shige_core::model::MAX_WIDTH))]
    pub hidden: usize,
    #[arg(long, default_value_t = 1, value_parser = count(1, shige_core::model::MAX_LAYERS))]
    pub layers: usize,
    /// Dropout between recurrent layers, in [0, 1)
    #[arg(long, default_value_t = 0.0, value_parser = number(0.0, 1.0, false))]
    pub dropout: f64,
    /// Tie the output layer to the embedding (h is projected to the embedding size)
    #[arg(long)]
    pub tied: bool,
}

impl ModelArgs {
    pub fn shape(&self) -> shige_core::ModelShape {
        shige_core::ModelShape::new()
            .with_cell(self.cell)
            .with_embedding(self.embedding)
            .with_hidden(self.hidden)
            .with_layers(self.layers)
            .with_dropout(self.dropout)
            .with_tied(self.tied)
    }
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
    #[arg(long, default_value_t = 0.95, value_parser = number(0.0, 1.0, true))]
    top_p: f64,
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// free, wujue (五绝), qijue (七绝), wulv (五律) or qilv (七律)
    #[arg(long, default_value = "free", value_parser = parse_form)]
    form: PoemForm,
    /// Most characters in a free poem
    #[arg(long, default_value_t = 80)]
    max_chars: usize,
}

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
    /// Checkpoint written by `shige train`
    #[arg(long)]
    model: PathBuf,
    /// Corpus to measure held-out perplexity on (its validation split, as in training)
    #[arg(long)]
    corpus: PathBuf,
    /// Poems to generate for the well-formedness share
    #[arg(long, default_value_t = 100)]
    samples: usize,
    #[command(flatten)]
    sampling: SamplingArgs,
}

fn run_eval(args: EvalArgs) -> Result<()> {
    let ckpt = read_checkpoint(&args.model)?;
    let corpus = read_corpus(&args.corpus, &ckpt.cleaning)?;
    let device = Device::flex();
    let trainer = shige_core::resume(&ckpt, &corpus, &device);
    let eval = pollster::block_on(trainer.evaluate())?;
    println!(
        "held-out loss {:.4} nats/char, perplexity {:.2} ({} validation characters, step {})",
        eval.loss, eval.perplexity, eval.tokens, ckpt.progress.step
    );
    // Start characters: the most frequent Chinese characters of the vocabulary, in turn.
    let starts: Vec<char> =
        ckpt.vocab.chars().iter().copied().filter(|&c| shige_core::inference::is_hanzi(c)).take(50).collect();
    if starts.is_empty() {
        anyhow::bail!("{}: the model's vocabulary has no Chinese characters to start poems with", args.model.display());
    }
    let model = trainer.model();
    let mut well_formed = 0;
    for i in 0..args.samples {
        let mut options = args.sampling.options(starts[i % starts.len()].to_string(), String::new());
        options.seed = args.sampling.seed + i as u64;
        let poem = pollster::block_on(generate(&model, &ckpt.vocab, &options))?;
        well_formed += shige_core::is_well_formed(&poem) as usize;
    }
    println!(
        "well-formed 五/七言 poems: {well_formed}/{} ({:.1}%) with form {:?}, temperature {}",
        args.samples,
        100.0 * well_formed as f64 / args.samples.max(1) as f64,
        args.sampling.form,
        args.sampling.temperature
    );
    Ok(())
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

fn main() {
    keep_large_allocations();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Train(args) => train::run(args),
        Command::Generate(args) => run_generate(args),
        Command::Eval(args) => run_eval(args),
        Command::Bench(args) => bench::run(args),
        Command::Prepare(args) => prepare::run(args),
    };
    if let Err(e) = result {
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}

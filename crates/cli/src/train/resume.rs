//! `train --resume`: the flags a resumed run applies (its step settings), the ones it refuses
//! (what the checkpoint was made with), and the check of the result, the page's
//! (`shige_core::training::resume`), each refusal saying how to repair.

use std::path::Path;

use anyhow::{Result, anyhow, bail};
use shige_core::Checkpoint;
use shige_core::training::{MAX_BATCH_SIZE, MAX_SEQ_LEN, ResumeChanges, ResumeError, Setting, TrainConfig};

use super::TrainArgs;

/// The step settings given on the command line, which a resumed run takes instead of the
/// checkpoint's.
pub(super) fn resume_changes(args: &TrainArgs, given: &[String]) -> ResumeChanges {
    let set = |id: &str| given.iter().any(|g| g == id);
    ResumeChanges {
        batch_size: set("batch_size").then_some(args.batch_size),
        max_seq_len: set("max_seq_len").then_some(args.max_seq_len),
        learning_rate: args.lr,
        output_dropout: args.output_dropout,
        grad_clip: set("grad_clip").then_some(args.grad_clip),
    }
}

/// Says each step setting that changes, so no flag is applied without a word.
pub(super) fn say_changes(saved: &TrainConfig, resumed: &TrainConfig, step: u64) {
    let changes = [
        ("--batch-size", saved.batch_size.to_string(), resumed.batch_size.to_string()),
        ("--max-seq-len", saved.max_seq_len.to_string(), resumed.max_seq_len.to_string()),
        ("--lr", saved.learning_rate.to_string(), resumed.learning_rate.to_string()),
        ("--output-dropout", saved.output_dropout.to_string(), resumed.output_dropout.to_string()),
        ("--grad-clip", saved.grad_clip.to_string(), resumed.grad_clip.to_string()),
    ];
    for (flag, was, now) in changes.into_iter().filter(|(_, was, now)| was != now) {
        eprintln!("{flag} {now} applies from step {step} on (the checkpoint's was {was})");
    }
}

/// Refuses a flag the checkpoint fixes when it asks for another value than the checkpoint's:
/// it would be ignored, and the run would not be the one asked for.
pub(super) fn refuse_fixed_flags(args: &TrainArgs, given: &[String], ckpt: &Checkpoint) -> Result<()> {
    const SHAPE: &str = "the model's weights have that shape";
    const SPLIT: &str = "the corpus is cleaned and split as the checkpoint's run did, so the validation poems stay the same";
    let (shape, cleaning, train) = (&ckpt.model.shape, &ckpt.cleaning, &ckpt.train);
    let corpus = &args.corpus;
    // The shape as the flags give it (a Transformer's defaults filled in), against the saved one.
    let asked = args.model.shape()?;
    let fixed: [(&str, &str, String, String, &str); 15] = [
        ("cell", "--cell", asked.cell.name().to_string(), shape.cell.name().to_string(), SHAPE),
        ("embedding", "--embedding", asked.embedding.to_string(), shape.embedding.to_string(), SHAPE),
        ("hidden", "--hidden", asked.hidden.to_string(), shape.hidden.to_string(), SHAPE),
        ("layers", "--layers", asked.layers.to_string(), shape.layers.to_string(), SHAPE),
        ("dropout", "--dropout", asked.dropout.to_string(), shape.dropout.to_string(), SHAPE),
        ("tied", "--tied", asked.tied.to_string(), shape.tied.to_string(), SHAPE),
        ("heads", "--heads", asked.heads.to_string(), shape.heads.to_string(), SHAPE),
        ("bias", "--bias", asked.bias.to_string(), shape.bias.to_string(), SHAPE),
        ("no_bias", "--no-bias", asked.bias.to_string(), shape.bias.to_string(), SHAPE),
        ("seed", "--seed", args.seed.to_string(), train.seed.to_string(), "it made the first weights and orders the batches of every epoch"),
        ("min_char_freq", "--min-char-freq", args.min_char_freq.to_string(), train.min_char_freq.to_string(), "the vocabulary was built with it"),
        ("min_chars", "--min-chars", corpus.min_chars.to_string(), cleaning.min_chars.to_string(), SPLIT),
        ("max_chars", "--max-chars", corpus.max_chars.to_string(), cleaning.max_chars.to_string(), SPLIT),
        ("validation_share", "--validation-share", corpus.validation_share.to_string(), cleaning.validation_share.to_string(), SPLIT),
        ("split_seed", "--split-seed", corpus.split_seed.to_string(), cleaning.split_seed.to_string(), SPLIT),
    ];
    let refused: Vec<String> = fixed
        .iter()
        .filter(|(id, _, asked, saved, _)| given.iter().any(|g| g == id) && asked != saved)
        .map(|(_, flag, asked, saved, why)| format!("{flag} {asked} cannot change on --resume: the checkpoint's is {saved} ({why})"))
        .collect();
    if !refused.is_empty() {
        bail!("{}\nleave these flags out to resume, or train a new model without --resume", refused.join("\n"));
    }
    Ok(())
}

/// The error for a checkpoint whose settings do not pass the check, with the repair: the flag
/// that brings a step setting back within the limits (an older shige allowed a sequence cap up
/// to 4096), or a new model where nothing can.
pub(super) fn resume_refusal(path: &Path, ckpt: &Checkpoint, e: &ResumeError) -> anyhow::Error {
    let at = path.display();
    let ResumeError::Setting(invalid) = e else {
        return anyhow!("{at} cannot train on: {e}; train a new model without --resume");
    };
    let train = &ckpt.train;
    let repair = match invalid.setting {
        Setting::MaxSeqLen => format!("resume with `--max-seq-len {}`, which then applies", train.max_seq_len.clamp(2, MAX_SEQ_LEN)),
        Setting::BatchSize => format!("resume with `--batch-size {}`, which then applies", train.batch_size.clamp(1, MAX_BATCH_SIZE)),
        Setting::LearningRate => "resume with `--lr` within those limits".into(),
        Setting::OutputDropout => "resume with `--output-dropout` within those limits".into(),
        Setting::GradClip => "resume with `--grad-clip` within those limits".into(),
        Setting::Adam => return anyhow!("{at} cannot train on: {e}; train a new model without --resume"),
    };
    anyhow!("{at}: the checkpoint's settings are outside this version's limits: {e}; {repair}")
}

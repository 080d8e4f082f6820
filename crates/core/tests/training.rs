//! Training, checkpoints and generation on the homework's small corpus.
mod common;

use common::{block_on, cpu, tangshi, tiny_trainer};
use shige_core::text::is_hanzi;
use shige_core::{Checkpoint, CheckpointError, GenerateError, GenerateOptions, PoemForm, TrainError, generate, resume};

fn mean(xs: &[f32]) -> f32 {
    xs.iter().sum::<f32>() / xs.len() as f32
}

#[test]
fn loss_falls_over_50_steps_on_tangshi() {
    let corpus = tangshi();
    let mut trainer = tiny_trainer(&corpus, 1);
    let before = block_on(trainer.evaluate()).unwrap();
    let losses = block_on(trainer.train_steps(50)).unwrap();
    let after = block_on(trainer.evaluate()).unwrap();
    assert!(mean(&losses[40..]) < mean(&losses[..10]) - 0.5, "{losses:?}");
    assert!(after.loss < before.loss, "validation {} -> {}", before.loss, after.loss);
    assert!((after.perplexity - after.loss.exp()).abs() < 1e-9);
}

#[test]
fn wgpu_trains_like_the_cpu() {
    let Some(gpu) = common::wgpu() else { return };
    let corpus = tangshi();
    let on_cpu = block_on(tiny_trainer(&corpus, 7).train_steps(10)).unwrap();
    let on_gpu = block_on(common::tiny_trainer_on(&corpus, 7, &gpu).train_steps(10)).unwrap();
    for (c, g) in on_cpu.iter().zip(&on_gpu) {
        assert!((c - g).abs() < 1e-2, "cpu {on_cpu:?}\ngpu {on_gpu:?}");
    }
    assert!(on_gpu[9] < on_gpu[0]);
}

#[test]
fn checkpoint_round_trip_gives_identical_logits_and_resumes_the_same_curve() {
    let corpus = tangshi();
    let mut straight = tiny_trainer(&corpus, 2);
    let all = block_on(straight.train_steps(8)).unwrap();

    let mut first = tiny_trainer(&corpus, 2);
    let head = block_on(first.train_steps(4)).unwrap();
    assert_eq!(head, all[..4]);
    let bytes = block_on(Checkpoint::capture(&first)).unwrap().to_bytes();
    let loaded = Checkpoint::from_bytes(&bytes).unwrap();
    assert_eq!(loaded.progress.step, 4);
    let mut resumed = resume(&loaded, &corpus, &cpu());

    // Same weights: same logits for the same input.
    let options = GenerateOptions { start: "月".into(), temperature: 0.0, ..Default::default() };
    let a = block_on(generate(&first.model(), &first.vocab, &options)).unwrap();
    let b = block_on(generate(&resumed.model(), &resumed.vocab, &options)).unwrap();
    assert_eq!(a, b);
    let eval_a = block_on(first.evaluate()).unwrap();
    let eval_b = block_on(resumed.evaluate()).unwrap();
    assert_eq!(eval_a, eval_b);

    // Same optimizer state and batch order: the same loss curve continues.
    let tail = block_on(resumed.train_steps(4)).unwrap();
    for (x, y) in tail.iter().zip(&all[4..]) {
        assert!((x - y).abs() < 1e-5, "resumed {tail:?} vs straight {:?}", &all[4..]);
    }
}

#[test]
fn mismatched_and_damaged_checkpoints_say_what_differs() {
    let corpus = tangshi();
    let trainer = tiny_trainer(&corpus, 4);
    let ckpt = block_on(Checkpoint::capture(&trainer)).unwrap();
    let mut other = ckpt.model.clone();
    other.shape.hidden = 64;
    let err = ckpt.check_compatible(&other, &ckpt.vocab).unwrap_err();
    assert!(err.to_string().contains("hidden is 48 in the checkpoint but 64 here"), "{err}");

    let bytes = ckpt.to_bytes();
    assert!(matches!(Checkpoint::from_bytes(b"hello"), Err(CheckpointError::NotACheckpoint(_))));
    assert!(matches!(Checkpoint::from_bytes(&bytes[..bytes.len() / 2]), Err(CheckpointError::Damaged(_))));
    let torch = ckpt.to_pytorch_safetensors();
    assert!(matches!(Checkpoint::from_bytes(&torch), Err(CheckpointError::NotACheckpoint(_))));
    let mut future = bytes.clone();
    let key = b"\"format_version\":\"2\"";
    let at = future.windows(key.len()).position(|w| w == key).expect("version in header");
    future[at + key.len() - 2] = b'9';
    let err = Checkpoint::from_bytes(&future).unwrap_err();
    assert!(matches!(err, CheckpointError::Version { .. }), "{err}");
}

fn trained() -> shige_core::Trainer {
    let corpus = tangshi();
    let mut trainer = tiny_trainer(&corpus, 6);
    block_on(trainer.train_steps(30)).unwrap();
    trainer
}

#[test]
fn forms_are_well_formed_for_100_seeds_and_acrostics_hold() {
    let trainer = trained();
    let model = trainer.model();
    for (form, len, lines) in [(PoemForm::Wujue, 5, 4), (PoemForm::Qilv, 7, 8)] {
        for seed in 0..100 {
            let options = GenerateOptions { start: "月".into(), seed, form, temperature: 1.0, ..Default::default() };
            let poem = block_on(generate(&model, &trainer.vocab, &options)).unwrap();
            let chars: Vec<char> = poem.chars().collect();
            assert_eq!(chars.len(), (len + 1) * lines, "{poem}");
            assert_eq!(chars[0], '月');
            for (i, line) in chars.chunks(len + 1).enumerate() {
                assert!(line[..len].iter().all(|&c| is_hanzi(c)), "{poem}");
                assert_eq!(line[len], if i % 2 == 0 { '，' } else { '。' }, "{poem}");
            }
        }
    }
    for form in [PoemForm::Wujue, PoemForm::Free] {
        let options = GenerateOptions { acrostic: "春夏秋冬".into(), form, seed: 9, ..Default::default() };
        let poem = block_on(generate(&model, &trainer.vocab, &options)).unwrap();
        let lines: Vec<&str> = poem.split(['，', '。', '？', '！', '；']).filter(|l| !l.is_empty()).collect();
        let heads: String = lines.iter().filter_map(|l| l.chars().next()).collect();
        assert!(heads.starts_with("春夏秋冬"), "{form:?}: {poem}");
    }
}

#[test]
fn free_generation_is_seeded_and_never_emits_specials() {
    let trainer = trained();
    let model = trainer.model();
    let options = GenerateOptions { start: "山".into(), seed: 11, temperature: 1.0, top_k: 50, ..Default::default() };
    let a = block_on(generate(&model, &trainer.vocab, &options)).unwrap();
    let b = block_on(generate(&model, &trainer.vocab, &options)).unwrap();
    assert_eq!(a, b);
    assert!(a.starts_with('山'));
    assert!(a.chars().all(|c| trainer.vocab.id(c).is_some()), "{a}");
    assert!(a.chars().count() <= 80);
}

#[test]
fn generation_errors_are_clear() {
    let trainer = trained();
    let model = trainer.model();
    let gen_err = |options: GenerateOptions| block_on(generate(&model, &trainer.vocab, &options)).unwrap_err();
    let err = gen_err(GenerateOptions { start: "Ω".into(), ..Default::default() });
    assert_eq!(err, GenerateError::UnknownChar('Ω'));
    assert!(err.to_string().contains("'Ω' is not in the model's vocabulary"));
    let err = gen_err(GenerateOptions { acrostic: "春夏秋冬雪".into(), form: PoemForm::Wujue, ..Default::default() });
    assert!(matches!(err, GenerateError::AcrosticTooLong { given: 5, lines: 4, .. }));
    let err = gen_err(GenerateOptions { start: "月，".into(), form: PoemForm::Wujue, ..Default::default() });
    assert!(matches!(err, GenerateError::PrefixBreaksForm(_)), "{err}");
    let err = gen_err(GenerateOptions { temperature: f32::NAN, ..Default::default() });
    assert_eq!(err, GenerateError::BadTemperature);
}

#[test]
fn empty_splits_are_errors_not_panics() {
    let mut corpus = tangshi();
    let validation = std::mem::take(&mut corpus.validation);
    let trainer = tiny_trainer(&corpus, 8);
    assert_eq!(block_on(trainer.evaluate()).unwrap_err(), TrainError::NoValidation);

    corpus.train.clear();
    corpus.validation = validation;
    let ckpt = block_on(Checkpoint::capture(&trainer)).unwrap();
    let mut generate_only = resume(&ckpt, &corpus, &cpu());
    assert_eq!(block_on(generate_only.train_steps(1)).unwrap_err(), TrainError::NoData);
    let options = GenerateOptions { start: "月".into(), form: PoemForm::Wujue, ..Default::default() };
    assert!(block_on(generate(&generate_only.model(), &generate_only.vocab, &options)).is_ok());
}

#[test]
fn output_dropout_acts_while_training_only() {
    let corpus = tangshi();
    let mut plain = tiny_trainer(&corpus, 3);
    let mut dropped = tiny_trainer(&corpus, 3);
    dropped.config.output_dropout = 0.5;
    assert_eq!(block_on(plain.evaluate()).unwrap(), block_on(dropped.evaluate()).unwrap(), "evaluation has no dropout");
    let (a, b) = (block_on(plain.train_steps(1)).unwrap(), block_on(dropped.train_steps(1)).unwrap());
    assert_ne!(a, b, "the training loss is computed on the dropped-out hidden state");
    // The masks come from the seed and the step: the same run repeats exactly.
    let mut again = tiny_trainer(&corpus, 3);
    again.config.output_dropout = 0.5;
    assert_eq!(block_on(again.train_steps(1)).unwrap(), b);
    assert_eq!(block_on(again.train_steps(3)).unwrap(), block_on(dropped.train_steps(3)).unwrap());
    assert!(block_on(dropped.train_steps(20)).unwrap().iter().all(|l| l.is_finite()));
    assert!(shige_core::TrainConfig::new().with_output_dropout(1.0).validate().is_err());
}

#[test]
fn schedule_warms_up_holds_then_decays_to_its_final_ratio() {
    use shige_core::training::{Decay, Schedule};
    let wsd = Schedule { decay: Decay::Linear, warmup_steps: 10, final_ratio: 0.05, decay_from: 0.6 };
    assert!((wsd.lr(1.0, 0, 0.0) - 0.1).abs() < 1e-12, "the first step is a tenth into the warm-up");
    assert_eq!(wsd.lr(1.0, 100, 0.3), 1.0, "flat before decay_from");
    assert_eq!(wsd.lr(1.0, 100, 0.6), 1.0, "the decay starts at decay_from");
    assert!((wsd.lr(1.0, 100, 0.8) - 0.525).abs() < 1e-12, "halfway through the decay");
    assert!((wsd.lr(1.0, 100, 1.0) - 0.05).abs() < 1e-12, "ends at the final ratio");
    let cosine = Schedule { decay: Decay::Cosine, warmup_steps: 0, final_ratio: 0.0, decay_from: 0.0 };
    assert!((cosine.lr(2.0, 5, 0.5) - 1.0).abs() < 1e-12, "cosine from the start is half way at half the run");
    let constant = Schedule { decay: Decay::Constant, ..cosine };
    assert_eq!(constant.lr(2.0, 5, 0.9), 2.0);
}

#[test]
fn evaluation_splits_a_big_batch_and_gives_the_same_figure() {
    // A model trained with a big batch is measured in batches of at most MAX_EVAL_BATCH poems
    // (its logits would not fit a browser tab); the figure is the same as with small batches.
    // 6,000 poems of poems.txt: a few validation batches of MAX_EVAL_BATCH.
    let path = common::data_file("poems.txt");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let head: String = text.lines().take(6000).map(|l| format!("{l}\n")).collect();
    let corpus = shige_core::load_corpus(head.as_bytes(), &shige_core::CleaningConfig::new()).unwrap();
    assert!(corpus.validation.len() > 2 * shige_core::training::MAX_EVAL_BATCH, "{} held out", corpus.validation.len());
    let config = |batch| shige_core::TrainConfig::new().with_min_char_freq(1).with_batch_size(batch);
    let big = shige_core::Trainer::new(&corpus, common::tiny_shape(), config(4096), &cpu()).unwrap();
    let small = shige_core::Trainer::new(&corpus, common::tiny_shape(), config(8), &cpu()).unwrap();
    let poems = corpus.validation.len();
    assert_eq!(big.eval_batches(), poems.div_ceil(shige_core::training::MAX_EVAL_BATCH));
    let (a, b) = (block_on(big.evaluate()).unwrap(), block_on(small.evaluate()).unwrap());
    assert!((a.loss - b.loss).abs() < 1e-5, "{} vs {}", a.loss, b.loss);
}

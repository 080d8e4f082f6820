//! Nothing lost: a step that would break the model is never applied, broken weights are
//! never saved or loaded, a damaged file is reported as damaged, and writing never panics.
mod common;

use common::{block_on, tangshi, tiny_trainer};
use shige_core::training::checkpoint::Weights;
use shige_core::data::corpus::Poem;
use shige_core::{
    Checkpoint, CheckpointError, CleaningConfig, Corpus, GenerateError, GenerateOptions, PoemForm, TrainConfig, TrainError,
    Trainer, generate, load_corpus,
};

#[test]
fn a_step_that_would_diverge_is_never_applied() {
    let corpus = tangshi();
    a_diverging_step_is_refused(tiny_trainer(&corpus, 5));
}

/// On the GPU the Adam kernel flags the non-finite weights (kernels/adam/cube.rs).
#[test]
fn a_step_that_would_diverge_is_never_applied_on_wgpu() {
    let Some(gpu) = common::wgpu() else { return };
    a_diverging_step_is_refused(common::tiny_trainer_on(&tangshi(), 5, &gpu));
}

fn a_diverging_step_is_refused(mut trainer: Trainer) {
    block_on(trainer.train_steps(3)).unwrap();
    let good = block_on(trainer.evaluate()).unwrap();
    let (epoch, batch) = (trainer.state.epoch, trainer.state.batch_in_epoch);
    // A learning rate so large the update itself overflows: the loss and gradients of the
    // step are finite, its new weights are not.
    trainer.config.learning_rate = 1e40;
    let err = block_on(trainer.train_steps(1)).unwrap_err();
    assert!(matches!(err, TrainError::NonFiniteLoss { step: 4, restored_step: 3, .. }), "{err}");
    assert!(err.to_string().contains("not applied") && err.to_string().contains("step 3"), "{err}");
    assert_eq!((trainer.state.step, trainer.state.epoch, trainer.state.batch_in_epoch), (3, epoch, batch));
    assert_eq!(block_on(trainer.evaluate()).unwrap(), good, "the model changed");
    // The good model can still be saved, and training goes on at a sane rate.
    assert!(block_on(Checkpoint::capture(&trainer)).is_ok());
    trainer.config.learning_rate = 5e-3;
    assert_eq!(block_on(trainer.train_steps(2)).unwrap().len(), 2);
    assert_eq!(trainer.state.step, 5);

    trainer.config.learning_rate = f64::NAN;
    assert!(matches!(block_on(trainer.train_steps(1)), Err(TrainError::NonFiniteLoss { restored_step: 5, .. })));
}

#[test]
fn non_finite_weights_are_neither_saved_nor_loaded() {
    let corpus = tangshi();
    let trainer = tiny_trainer(&corpus, 6);
    let good = block_on(Checkpoint::capture(&trainer)).unwrap();

    let mut broken = good.clone();
    broken.params[1][7] = f32::NAN;
    let mut nan_trainer = shige_core::resume(&broken, &corpus, &common::cpu());
    let err = block_on(Checkpoint::capture(&nan_trainer)).unwrap_err();
    assert!(matches!(&err, CheckpointError::NonFinite(name, "saved") if name == "model.gru.weight_ih_l0"), "{err}");
    // And a NaN model refuses to train instead of spreading NaN.
    assert!(block_on(nan_trainer.train_steps(1)).is_err());

    // A file written with a NaN (checksum intact) is refused on load with a clear error.
    let err = Checkpoint::from_bytes(&broken.to_bytes()).unwrap_err();
    assert!(err.to_string().contains("non-finite values in `model.gru.weight_ih_l0`"), "{err}");
    broken.params[1][7] = 0.5;
    broken.adam_v[0][0] = f32::INFINITY;
    assert!(matches!(Checkpoint::from_bytes(&broken.to_bytes()), Err(CheckpointError::NonFinite(..))));
}

#[test]
fn the_checksum_catches_a_flipped_weight_byte() {
    let corpus = tangshi();
    let trainer = tiny_trainer(&corpus, 7);
    let bytes = block_on(Checkpoint::capture(&trainer)).unwrap().to_bytes();
    assert!(Checkpoint::from_bytes(&bytes).is_ok());
    // Flip one bit near the end of the file: inside the Adam moments' data.
    for at in [bytes.len() - 3, bytes.len() / 2, bytes.len() - 20_000] {
        let mut damaged = bytes.clone();
        damaged[at] ^= 0x10;
        let err = Checkpoint::from_bytes(&damaged).unwrap_err();
        assert!(matches!(err, CheckpointError::Damaged(_)), "byte {at}: {err}");
        assert!(err.to_string().contains("checksum") || err.to_string().contains("damaged"), "{err}");
    }
}

#[test]
fn version_1_checkpoints_still_load() {
    let corpus = tangshi();
    let trainer = tiny_trainer(&corpus, 8);
    let ckpt = block_on(Checkpoint::capture(&trainer)).unwrap();
    let v2 = ckpt.to_bytes();
    // Rewrite the file as version 1 wrote it: no cell, no tied flag, no checksum.
    let file = safetensors::SafeTensors::deserialize(&v2).unwrap();
    let (_, header) = safetensors::SafeTensors::read_metadata(&v2).unwrap();
    let mut meta = header.metadata().clone().unwrap();
    meta.insert("format_version".into(), "1".into());
    meta.remove("weights_crc32");
    let mut model: serde_json::Value = serde_json::from_str(&meta["model_config"]).unwrap();
    let shape = model["shape"].as_object_mut().unwrap();
    shape.remove("cell");
    shape.remove("tied");
    meta.insert("model_config".into(), model.to_string());
    let tensors: Vec<(String, safetensors::tensor::TensorView)> = file.tensors();
    let v1 = safetensors::serialize(tensors, Some(meta)).unwrap();

    let loaded = Checkpoint::from_bytes(&v1).unwrap();
    assert_eq!(loaded.model, ckpt.model);
    assert_eq!(loaded.params, ckpt.params);
}

fn poem(s: &str) -> Poem {
    Poem { title: String::new(), content: s.chars().collect() }
}

#[test]
fn writing_reports_errors_instead_of_panicking() {
    // A vocabulary without Chinese characters: every form needs them.
    let latin: Vec<Poem> = (0..20).map(|i| poem(&format!("abc{}，def。", i % 3))).collect();
    let corpus = Corpus { config: CleaningConfig::new(), train: latin.clone(), validation: latin, report: Default::default() };
    let trainer = Trainer::new(&corpus, common::tiny_shape(), TrainConfig::new().with_min_char_freq(1), &common::cpu()).unwrap();
    let model = trainer.model();
    let options = GenerateOptions { start: "a".into(), form: PoemForm::Wujue, ..Default::default() };
    assert_eq!(block_on(generate(&model, &trainer.vocab, &options)).unwrap_err(), GenerateError::NoHanzi);
    // Free verse still works on such a vocabulary, greedy included.
    for temperature in [0.0, 1.0] {
        let options = GenerateOptions { start: "a".into(), temperature, ..Default::default() };
        assert!(block_on(generate(&model, &trainer.vocab, &options)).unwrap().starts_with('a'));
    }
    let err = block_on(generate(&model, &trainer.vocab, &GenerateOptions { top_p: f32::NAN, ..Default::default() })).unwrap_err();
    assert_eq!(err, GenerateError::BadTopP);

    // A model whose scores are all NaN has no candidate: an error, not a panic.
    let mut ckpt = block_on(Checkpoint::capture(&trainer)).unwrap();
    let last = ckpt.params.len() - 1;
    ckpt.params[last].iter_mut().for_each(|b| *b = f32::NAN);
    let broken = shige_core::resume(&ckpt, &corpus, &common::cpu());
    let options = GenerateOptions { start: "a".into(), temperature: 0.0, ..Default::default() };
    let err = block_on(generate(&broken.model(), &broken.vocab, &options)).unwrap_err();
    assert!(matches!(err, GenerateError::NoCandidate(ref so_far) if so_far == "a"), "{err}");
}

#[test]
fn utf16_and_bad_settings_are_refused_with_their_reasons() {
    let utf16: Vec<u8> = [0xFE, 0xFF].into_iter().chain("静夜思:床前明月光。".encode_utf16().flat_map(u16::to_be_bytes)).collect();
    let err = load_corpus(&utf16, &CleaningConfig::new()).unwrap_err();
    assert!(err.to_string().contains("UTF-16 text (big-endian)"), "{err}");

    let corpus = tangshi();
    let cpu = common::cpu();
    let fails = |shape: shige_core::ModelShape, config: TrainConfig| match Trainer::new(&corpus, shape, config, &cpu) {
        Err(TrainError::Settings(why)) => why,
        Err(e) => panic!("unexpected error {e}"),
        Ok(_) => panic!("accepted"),
    };
    let shape = common::tiny_shape;
    assert!(fails(shape().with_hidden(100_000), TrainConfig::new()).contains("hidden must be between 1 and 4096 (got 100000)"));
    assert!(fails(shape().with_hidden(0), TrainConfig::new()).contains("hidden must be between 1 and 4096 (got 0)"));
    assert!(fails(shape().with_embedding(4097), TrainConfig::new()).contains("embedding must be between 1 and 4096"));
    assert!(fails(shape(), TrainConfig::new().with_batch_size(0)).contains("batch size must be between 1 and 4096"));
    assert!(fails(shape(), TrainConfig::new().with_batch_size(53_024_288)).contains("batch size must be between 1 and 4096"));
    assert!(fails(shape(), TrainConfig::new().with_max_seq_len(1)).contains("sequence cap"));
    assert!(fails(shape(), TrainConfig::new().with_max_seq_len(1025)).contains("and 1024 (got 1025)"));
    // The largest settings allowed are accepted (the model is checked, not built, here).
    let widest = TrainConfig::new().with_batch_size(4096).with_max_seq_len(1024);
    assert_eq!(widest.validate(), Ok(()));
    assert_eq!(shape().with_hidden(4096).with_embedding(4096).validate(100), Ok(()));
    assert_eq!(shape().with_layers(8).validate(100), Ok(()));
    assert!(fails(shape(), TrainConfig::new().with_learning_rate(0.0)).contains("learning rate"));
    assert!(fails(shape(), TrainConfig::new().with_learning_rate(f64::NAN)).contains("learning rate"));
    assert!(fails(shape().with_dropout(1.0), TrainConfig::new()).contains("dropout"));
    assert!(fails(shape().with_layers(0), TrainConfig::new()).contains("layers"));
    let huge = shape().with_embedding(4096).with_hidden(4096).with_layers(8);
    assert!(fails(huge, TrainConfig::new()).contains("parameters; the limit"));
}

#[test]
fn gradient_flow_has_a_point_per_time_step() {
    let corpus = tangshi();
    let trainer = tiny_trainer(&corpus, 9);
    let flow = block_on(trainer.gradient_flow()).unwrap();
    assert!(flow.whole_poem.len() >= 16, "{}", flow.whole_poem.len());
    assert_eq!(flow.whole_poem.len(), flow.last_char.len());
    assert!(flow.whole_poem.iter().chain(&flow.last_char).all(|g| g.is_finite() && *g >= 0.0));
    // The last character's loss reaches the last hidden state directly.
    assert!(*flow.last_char.last().unwrap() > 0.0);
}

#[test]
fn compact_copies_load_write_and_keep_their_checksum() {
    let corpus = tangshi();
    let mut trainer = tiny_trainer(&corpus, 10);
    block_on(trainer.train_steps(20)).unwrap();
    let full = block_on(Checkpoint::capture(&trainer)).unwrap();
    let full_loss = block_on(trainer.evaluate()).unwrap().loss;
    for (weights, tolerance, max_ratio) in [(Weights::F16, 1e-3, 0.55), (Weights::Int8, 2e-2, 0.3)] {
        let bytes = full.to_compact_bytes(weights);
        // The full file holds weights and two moments: a compact one is a fraction of a third of it.
        assert!((bytes.len() as f64) < max_ratio * full.to_bytes().len() as f64 / 3.0, "{weights:?}: {} bytes", bytes.len());
        let compact = Checkpoint::from_bytes(&bytes).unwrap();
        assert_eq!(compact.progress.step, full.progress.step);
        assert_eq!(compact.progress.adam_t, 0, "no moments travel with a compact copy");
        assert!(compact.adam_m.iter().flatten().all(|&m| m == 0.0));
        let max_diff = compact.params.iter().flatten().zip(full.params.iter().flatten()).map(|(a, b)| (a - b).abs()).fold(0.0f32, f32::max);
        assert!(max_diff < 0.05, "{weights:?}: weights moved by {max_diff}");
        let resumed = shige_core::resume(&compact, &corpus, &common::cpu());
        let loss = block_on(resumed.evaluate()).unwrap().loss;
        assert!((loss - full_loss).abs() < tolerance, "{weights:?}: held-out {loss} vs {full_loss}");
        let options = GenerateOptions { start: "月".into(), form: PoemForm::Wujue, ..Default::default() };
        assert!(block_on(generate(&resumed.model(), &resumed.vocab, &options)).unwrap().starts_with('月'));
        // One flipped bit anywhere in the weights is caught.
        let mut damaged = bytes.clone();
        let at = damaged.len() - 7;
        damaged[at] ^= 0x01;
        assert!(matches!(Checkpoint::from_bytes(&damaged), Err(CheckpointError::Damaged(_))), "{weights:?}");
    }
}

//! The Transformer (nanoGPT's `GPT`): a scalar reference of its forward and loss, causality,
//! the KV cache against reading everything again, burn's fused attention against the written-out
//! one, training, checkpoints and compaction, writing with the meter, and the page's views.
mod common;

use std::collections::HashMap;

use burn::tensor::{Int, Tensor, TensorData};
use common::{block_on, cpu, tangshi};
use rand::{Rng, SeedableRng, rngs::StdRng};
use shige_core::data::vocab::BOS;
use shige_core::training::checkpoint::Weights;
use shige_core::training::masked_cross_entropy;
use shige_core::{
    Cell, Checkpoint, GenerateOptions, ModelShape, PoemForm, PoemModel, PoemModelConfig, TrainConfig, Trainer, generate, resume,
};

fn shape(bias: bool) -> ModelShape {
    ModelShape::new().with_cell(Cell::Transformer).with_embedding(16).with_heads(4).with_layers(2).with_bias(bias).with_block_size(12)
}

/// Random weights far from nanoGPT's small start, so every part of the forward matters.
fn random_params(config: &PoemModelConfig, seed: u64) -> Vec<Vec<f32>> {
    let mut rng = StdRng::seed_from_u64(seed);
    config.param_shapes().iter().map(|(_, [r, c])| (0..r * c).map(|_| rng.random_range(-0.5f32..0.5)).collect()).collect()
}

fn model_of(config: &PoemModelConfig, params: &[Vec<f32>]) -> PoemModel {
    let tensors = config.param_shapes().iter().zip(params).map(|((_, s), v)| Tensor::from_data(TensorData::new(v.clone(), *s), &cpu())).collect();
    config.from_params(tensors)
}

fn logits(model: &PoemModel, tokens: &[usize]) -> Vec<f32> {
    let ids: Vec<i32> = tokens.iter().map(|&t| t as i32).collect();
    let input = Tensor::<2, Int>::from_data(TensorData::new(ids, [1, tokens.len()]), &cpu());
    model.forward(input, None).0.into_data().try_to_vec::<f32>().unwrap()
}

/// nanoGPT's forward in plain f64 loops over the named parameters: logits `[T][V]`.
fn reference_logits(config: &PoemModelConfig, params: &[Vec<f32>], tokens: &[usize]) -> Vec<Vec<f64>> {
    let named: HashMap<String, &Vec<f32>> = config.param_shapes().into_iter().zip(params).map(|((n, _), p)| (n, p)).collect();
    let s = &config.shape;
    let (e, heads, v) = (s.embedding, s.heads, config.vocab_size);
    let d = e / heads;
    let get = |name: String| -> Option<Vec<f64>> { named.get(&name).map(|p| p.iter().map(|&x| x as f64).collect()) };
    // x @ W (+ b), W stored [in, out]
    let linear = |x: &[Vec<f64>], name: &str| -> Vec<Vec<f64>> {
        let w = get(format!("{name}.weight")).unwrap();
        let b = get(format!("{name}.bias"));
        let out = w.len() / x[0].len();
        x.iter()
            .map(|row| (0..out).map(|j| row.iter().enumerate().map(|(i, a)| a * w[i * out + j]).sum::<f64>() + b.as_ref().map_or(0.0, |b| b[j])).collect())
            .collect()
    };
    let layer_norm = |x: &[Vec<f64>], name: &str| -> Vec<Vec<f64>> {
        let w = get(format!("{name}.weight")).unwrap();
        let b = get(format!("{name}.bias"));
        x.iter()
            .map(|row| {
                let mean = row.iter().sum::<f64>() / e as f64;
                let var = row.iter().map(|a| (a - mean).powi(2)).sum::<f64>() / e as f64;
                (0..e).map(|j| (row[j] - mean) / (var + 1e-5).sqrt() * w[j] + b.as_ref().map_or(0.0, |b| b[j])).collect()
            })
            .collect()
    };
    let (wte, wpe) = (get("transformer.wte.weight".into()).unwrap(), get("transformer.wpe.weight".into()).unwrap());
    let mut x: Vec<Vec<f64>> = tokens.iter().enumerate().map(|(t, &tok)| (0..e).map(|j| wte[tok * e + j] + wpe[t * e + j]).collect()).collect();
    for l in 0..s.layers {
        let h = format!("transformer.h.{l}");
        let qkv = linear(&layer_norm(&x, &format!("{h}.ln_1")), &format!("{h}.attn.c_attn"));
        let mut y = vec![vec![0.0; e]; tokens.len()];
        for head in 0..heads {
            for t in 0..tokens.len() {
                let dot = |u: usize| (0..d).map(|k| qkv[t][head * d + k] * qkv[u][e + head * d + k]).sum::<f64>() / (d as f64).sqrt();
                let scores: Vec<f64> = (0..=t).map(dot).collect();
                let max = scores.iter().cloned().fold(f64::MIN, f64::max);
                let total: f64 = scores.iter().map(|s| (s - max).exp()).sum();
                for (u, s) in scores.iter().enumerate() {
                    for k in 0..d {
                        y[t][head * d + k] += (s - max).exp() / total * qkv[u][2 * e + head * d + k];
                    }
                }
            }
        }
        let a = linear(&y, &format!("{h}.attn.c_proj"));
        x = x.iter().zip(&a).map(|(x, a)| x.iter().zip(a).map(|(x, a)| x + a).collect()).collect();
        let fc: Vec<Vec<f64>> = linear(&layer_norm(&x, &format!("{h}.ln_2")), &format!("{h}.mlp.c_fc"))
            .into_iter()
            .map(|row| row.into_iter().map(|z| 0.5 * z * (1.0 + erf(z / 2f64.sqrt()))).collect())
            .collect();
        let m = linear(&fc, &format!("{h}.mlp.c_proj"));
        x = x.iter().zip(&m).map(|(x, m)| x.iter().zip(m).map(|(x, m)| x + m).collect()).collect();
    }
    let x = layer_norm(&x, "transformer.ln_f");
    // lm_head tied to wte, no bias
    x.iter().map(|row| (0..v).map(|tok| (0..e).map(|j| row[j] * wte[tok * e + j]).sum()).collect()).collect()
}

/// erf to ~1e-15 (Taylor series near 0, continued fraction in the tails).
fn erf(x: f64) -> f64 {
    if x.abs() < 2.5 {
        let (mut term, mut sum, mut n) = (x, x, 0.0);
        while term.abs() > 1e-17 {
            n += 1.0;
            term *= -x * x / n;
            sum += term / (2.0 * n + 1.0);
        }
        2.0 / std::f64::consts::PI.sqrt() * sum
    } else {
        // erfc by Lentz's continued fraction
        let z = x.abs();
        let mut f = z;
        for k in (1..60).rev() {
            f = z + (k as f64 / 2.0) / f;
        }
        let erfc = (-z * z).exp() / (f * std::f64::consts::PI.sqrt());
        x.signum() * (1.0 - erfc)
    }
}

fn max_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter().zip(b).map(|(x, y)| (x - y).abs()).fold(0.0, f32::max)
}

#[test]
fn the_forward_and_loss_match_a_scalar_reference_with_and_without_biases() {
    for bias in [true, false] {
        let config = PoemModelConfig::new(23, shape(bias));
        let params = random_params(&config, 7);
        let model = model_of(&config, &params);
        let tokens = [BOS, 5, 9, 11, 5, 22, 7, 4, 13, 9];
        let ours = logits(&model, &tokens);
        let want: Vec<f32> = reference_logits(&config, &params, &tokens).into_iter().flatten().map(|x| x as f32).collect();
        assert!(max_diff(&ours, &want) < 1e-4, "bias {bias}: logits differ by {}", max_diff(&ours, &want));

        // The masked loss over the next tokens, the last position masked out.
        let (inputs, targets) = (&tokens[..9], &tokens[1..]);
        let reference = reference_logits(&config, &params, inputs);
        let nll: f64 = reference.iter().zip(targets).take(8).map(|(row, &t)| {
            let max = row.iter().cloned().fold(f64::MIN, f64::max);
            max + row.iter().map(|x| (x - max).exp()).sum::<f64>().ln() - row[t]
        }).sum();
        let ids = |ts: &[usize]| Tensor::<2, Int>::from_data(TensorData::new(ts.iter().map(|&t| t as i32).collect::<Vec<_>>(), [1, 9]), &cpu());
        let mask = Tensor::<2>::from_data(TensorData::new([vec![1.0f32; 8], vec![0.0]].concat(), [1, 9]), &cpu());
        let (out, _) = model.forward(ids(inputs), None);
        let loss: f32 = masked_cross_entropy(out, ids(targets), mask, 8).into_scalar();
        assert!((loss as f64 - nll / 8.0).abs() < 1e-5, "bias {bias}: loss {loss} vs {}", nll / 8.0);
    }
}

#[test]
fn the_trainers_held_out_loss_is_the_references() {
    // The evaluation goes through the CPU output loops with a zero bias that is not a parameter.
    let corpus = tangshi();
    let config = TrainConfig::new().with_min_char_freq(1).with_max_seq_len(12);
    let mut trainer = Trainer::new(&corpus, shape(true), config, &cpu()).unwrap();
    assert_eq!(trainer.model_config.shape.block_size, 12, "the block size is the run's sequence cap");
    let params = random_params(&trainer.model_config, 3);
    trainer.state.params = model_of(&trainer.model_config, &params).params();
    let eval = block_on(trainer.evaluate()).unwrap();
    let (mut total, mut count) = (0.0f64, 0usize);
    for poem in &trainer.data().validation {
        let seq: Vec<usize> = [BOS].into_iter().chain(poem.iter().map(|&t| t as usize)).chain([shige_core::data::vocab::EOS]).collect();
        let n = (seq.len() - 1).min(12);
        let rows = reference_logits(&trainer.model_config, &params, &seq[..n]);
        for (row, &t) in rows.iter().zip(&seq[1..=n]) {
            let max = row.iter().cloned().fold(f64::MIN, f64::max);
            total += max + row.iter().map(|x| (x - max).exp()).sum::<f64>().ln() - row[t];
        }
        count += n;
    }
    assert_eq!(eval.tokens, count);
    assert!((eval.loss - total / count as f64).abs() < 1e-4, "{} vs {}", eval.loss, total / count as f64);
}

#[test]
fn a_later_character_never_changes_earlier_logits() {
    let config = PoemModelConfig::new(31, shape(true));
    let model = model_of(&config, &random_params(&config, 11));
    let tokens = vec![BOS, 4, 8, 15, 16, 23, 30, 7, 9, 12];
    let before = logits(&model, &tokens);
    for changed in [3, 9] {
        let mut tokens = tokens.clone();
        tokens[changed] = (tokens[changed] + 5) % 31;
        let after = logits(&model, &tokens);
        let v = 31;
        assert!(max_diff(&before[..changed * v], &after[..changed * v]) <= 1e-6, "position {changed} reached back");
        assert!(max_diff(&before[changed * v..], &after[changed * v..]) > 1e-3, "position {changed} changed nothing after it");
    }
}

#[test]
fn the_kv_cache_gives_the_logits_of_reading_everything_again_past_the_block_too() {
    let config = PoemModelConfig::new(29, shape(true)); // block 12
    let model = model_of(&config, &random_params(&config, 5));
    let tokens: Vec<usize> = (0..17).map(|i| (i * 7 + 2) % 29).collect();
    let mut state = None;
    for (t, &token) in tokens.iter().enumerate() {
        let input = Tensor::<2, Int>::from_data(TensorData::new(vec![token as i32], [1, 1]), &cpu());
        let (step, next) = model.forward(input, state);
        state = Some(next);
        // nanoGPT crops the context to the last block_size tokens.
        let context = &tokens[(t + 1).saturating_sub(12)..=t];
        let full = logits(&model, context);
        let last = &full[full.len() - 29..];
        let step = step.into_data().try_to_vec::<f32>().unwrap();
        assert!(max_diff(&step, last) < 1e-5, "token {t}: {}", max_diff(&step, last));
    }
}

#[test]
fn burns_fused_attention_is_the_written_out_attention() {
    use shige_core::model::transformer::attention_weights;
    let mut rng = StdRng::seed_from_u64(2);
    let mut random = |shape: [usize; 4]| {
        let values: Vec<f32> = (0..shape.iter().product()).map(|_| rng.random_range(-1.0f32..1.0)).collect();
        Tensor::<4>::from_data(TensorData::new(values, shape), &cpu())
    };
    for (tq, tk) in [(9, 9), (1, 6), (3, 8)] {
        let (q, k, v) = (random([2, 3, tq, 4]), random([2, 3, tk, 4]), random([2, 3, tk, 4]));
        let causal = burn::tensor::ops::AttentionModuleOptions { is_causal: true, ..Default::default() };
        let fused = burn::tensor::module::attention(q.clone(), k.clone(), v.clone(), None, None, causal);
        let written = attention_weights(q, k).matmul(v);
        let (a, b) = (fused.into_data().try_to_vec::<f32>().unwrap(), written.into_data().try_to_vec::<f32>().unwrap());
        assert!(max_diff(&a, &b) < 1e-5, "{tq}x{tk}: {}", max_diff(&a, &b));
    }
}

#[test]
fn the_cpu_loops_for_gelu_and_attention_match_their_tensor_op_references() {
    let check = block_on(shige_core::kernels::transformer::check(&cpu())).unwrap().expect("the CPU runs the loops");
    for (what, diff) in check.differences {
        assert!(diff < 2e-5, "{what}: {diff}");
    }
}

fn tiny_transformer(seed: u64) -> Trainer {
    let config = TrainConfig::new().with_batch_size(16).with_seed(seed).with_min_char_freq(1).with_learning_rate(3e-3);
    Trainer::new(&tangshi(), shape(true).with_embedding(32), config.with_max_seq_len(40), &cpu()).unwrap()
}

#[test]
fn wgpu_trains_like_the_cpu() {
    // There burn's ops (the tensor-op references of GELU and the attention) run the model.
    let Some(gpu) = common::wgpu() else { return };
    let config = TrainConfig::new().with_batch_size(8).with_seed(8).with_min_char_freq(1).with_learning_rate(3e-3).with_max_seq_len(40);
    let trainer = |device: &burn::tensor::Device| Trainer::new(&tangshi(), shape(true).with_embedding(32), config.clone(), device).unwrap();
    let on_cpu = block_on(trainer(&cpu()).train_steps(4)).unwrap();
    let on_gpu = block_on(trainer(&gpu).train_steps(4)).unwrap();
    for (c, g) in on_cpu.iter().zip(&on_gpu) {
        assert!((c - g).abs() < 1e-3, "cpu {on_cpu:?}\ngpu {on_gpu:?}");
    }
}

#[test]
fn training_lowers_the_loss_on_a_tiny_corpus() {
    let mut trainer = tiny_transformer(1);
    let before = block_on(trainer.evaluate()).unwrap().loss;
    let losses = block_on(trainer.train_steps(40)).unwrap();
    let after = block_on(trainer.evaluate()).unwrap().loss;
    let mean = |xs: &[f32]| xs.iter().sum::<f32>() / xs.len() as f32;
    assert!(mean(&losses[35..]) < mean(&losses[..5]) - 0.5, "{losses:?}");
    assert!(after < before - 0.5, "held-out {before} -> {after}");
    // nanoGPT's start: logits near zero, so the first loss is about ln V.
    assert!((losses[0] - (trainer.vocab.len() as f32).ln()).abs() < 0.1, "first loss {}", losses[0]);
}

#[test]
fn one_step_moves_every_weight_against_its_full_autodiff_gradient() {
    // The trainer works the tied output layer's gradient by hand (wte's share added to the
    // embedding's) and reads the rest from its tracked leaves through the reshapes of the
    // biases and LayerNorms. Adam's first step is -lr · g / (|g| + eps): the sign of every
    // gradient, which full autodiff of the plain forward and loss must agree with.
    let full = tangshi();
    let corpus = shige_core::Corpus { train: full.train[..12].to_vec(), ..full.clone() };
    let config = TrainConfig::new().with_batch_size(12).with_min_char_freq(1).with_max_seq_len(24).with_learning_rate(1e-3);
    let mut trainer = Trainer::new(&corpus, shape(true), config, &cpu()).unwrap();
    let params = random_params(&trainer.model_config, 9);
    trainer.state.params = model_of(&trainer.model_config, &params).params();

    let poems: Vec<&[u32]> = trainer.data().train.iter().map(Vec::as_slice).collect();
    let batch = shige_core::data::batch::Batch::new(&poems, 24);
    let (inputs, targets, mask) = batch.to_tensors(&cpu());
    let tracked: Vec<Tensor<2>> = trainer.state.params.iter().map(|p| p.clone().autodiff().require_grad()).collect();
    let (logits, _) = trainer.model_config.from_params(tracked.clone()).forward(inputs, None);
    let grads = masked_cross_entropy(logits, targets, mask.autodiff(), batch.tokens).backward();
    let before = trainer.state.params.clone();
    block_on(trainer.train_steps(1)).unwrap();
    for (((name, _), leaf), (old, new)) in trainer.model_config.param_shapes().iter().zip(&tracked).zip(before.iter().zip(&trainer.state.params)) {
        let g = leaf.grad(&grads).expect("every parameter has a gradient").into_data().try_to_vec::<f32>().unwrap();
        let (old, new) = (old.clone().into_data().try_to_vec::<f32>().unwrap(), new.clone().into_data().try_to_vec::<f32>().unwrap());
        let largest = g.iter().fold(0.0f32, |m, x| m.max(x.abs()));
        assert!(largest > 0.0, "{name} has no gradient");
        for ((g, old), new) in g.iter().zip(&old).zip(&new) {
            if g.abs() > 1e-3 * largest {
                assert!((new - old) * g < 0.0, "{name}: moved {} against a gradient of {g}", new - old);
            }
        }
    }
}

#[test]
fn a_checkpoint_round_trip_gives_bit_identical_logits_and_compact_copies_load() {
    let corpus = tangshi();
    let mut trainer = tiny_transformer(4);
    block_on(trainer.train_steps(3)).unwrap();
    let ckpt = block_on(Checkpoint::capture(&trainer)).unwrap();
    let bytes = ckpt.to_bytes();
    let loaded = Checkpoint::from_bytes(&bytes).unwrap();
    assert_eq!(loaded, ckpt);
    assert_eq!(loaded.format_version(), 3);
    let tokens = [BOS, 10, 20, 30, 40, 50];
    let (a, b) = (logits(&trainer.model(), &tokens), logits(&resume(&loaded, &corpus, &cpu()).model(), &tokens));
    assert_eq!(a, b);

    for (weights, tolerance) in [(Weights::F16, 0.02), (Weights::Int8, 0.1)] {
        let compact = Checkpoint::from_bytes(&ckpt.to_compact_bytes(weights)).unwrap();
        // The LayerNorms stay f32 in a compact copy.
        let ln = ckpt.model.param_shapes().iter().position(|(n, _)| n == "transformer.h.0.ln_1.weight").unwrap();
        assert_eq!(compact.params[ln], ckpt.params[ln], "{weights:?}");
        let c = logits(&resume(&compact, &corpus, &cpu()).model(), &tokens);
        assert!(max_diff(&a, &c) < tolerance, "{weights:?}: {}", max_diff(&a, &c));
        // A compact copy is written again as it was read.
        assert_eq!(Checkpoint::from_bytes(&compact.to_compact_bytes(weights)).unwrap().params, compact.params);
    }
}

#[test]
fn the_export_has_nanogpts_names_shapes_and_config() {
    let trainer = tiny_transformer(2);
    let ckpt = block_on(Checkpoint::capture(&trainer)).unwrap();
    let bytes = ckpt.to_pytorch_safetensors();
    let file = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let (v, e, block) = (ckpt.model.vocab_size, 32, 40);
    let mut want = vec![
        ("lm_head.weight".to_string(), vec![v, e]),
        ("transformer.wte.weight".into(), vec![v, e]),
        ("transformer.wpe.weight".into(), vec![block, e]),
        ("transformer.ln_f.weight".into(), vec![e]),
        ("transformer.ln_f.bias".into(), vec![e]),
    ];
    for i in 0..2 {
        for (name, shape) in [
            ("ln_1.weight", vec![e]), ("ln_1.bias", vec![e]), ("attn.c_attn.weight", vec![3 * e, e]), ("attn.c_attn.bias", vec![3 * e]),
            ("attn.c_proj.weight", vec![e, e]), ("attn.c_proj.bias", vec![e]), ("ln_2.weight", vec![e]), ("ln_2.bias", vec![e]),
            ("mlp.c_fc.weight", vec![4 * e, e]), ("mlp.c_fc.bias", vec![4 * e]), ("mlp.c_proj.weight", vec![e, 4 * e]), ("mlp.c_proj.bias", vec![e]),
        ] {
            want.push((format!("transformer.h.{i}.{name}"), shape));
        }
    }
    let mut got: Vec<(String, Vec<usize>)> = file.tensors().into_iter().map(|(n, t)| (n, t.shape().to_vec())).collect();
    got.sort();
    want.sort();
    assert_eq!(got, want);
    let value = |name: &str, i: usize| f32::from_le_bytes(file.tensor(name).unwrap().data()[i * 4..i * 4 + 4].try_into().unwrap());
    // PyTorch's Linear is [out, in]: its (r, c) is our [in, out] at (c, r).
    let c_fc = ckpt.model.param_shapes().iter().position(|(n, _)| n == "transformer.h.1.mlp.c_fc.weight").unwrap();
    assert_eq!(value("transformer.h.1.mlp.c_fc.weight", 7 * e + 3), ckpt.params[c_fc][3 * 4 * e + 7]);
    assert_eq!(value("lm_head.weight", 5 * e + 2), ckpt.params[0][5 * e + 2]);
    let config = ckpt.pytorch_config();
    for (key, value) in [("block_size", block), ("vocab_size", v), ("n_layer", 2), ("n_head", 4), ("n_embd", e)] {
        assert_eq!(config[key], value, "{key}");
    }
    assert_eq!((config["bias"].as_bool(), config["dropout"].as_f64()), (Some(true), Some(0.0)));
    assert_eq!(config["shape"]["cell"], "transformer");
}

#[test]
fn it_writes_forms_with_the_meter_and_shows_its_attention() {
    let mut trainer = tiny_transformer(3);
    block_on(trainer.train_steps(20)).unwrap();
    let model = trainer.model();
    for seed in 0..5 {
        let options = GenerateOptions { start: "月".into(), form: PoemForm::Qijue, meter: true, seed, ..Default::default() };
        let poem = block_on(generate(&model, &trainer.vocab, &options)).unwrap();
        let report = shige_core::text::meter::check(&poem).expect("a 七绝");
        assert!(report.passes(), "{poem}: {report:?}");
    }
    let poem = block_on(generate(&model, &trainer.vocab, &GenerateOptions { start: "春".into(), form: PoemForm::Wujue, ..Default::default() })).unwrap();
    let shown = block_on(shige_core::generate::attention::poem_attention(&model, &trainer.vocab, &poem)).unwrap().expect("a Transformer");
    let t = poem.chars().count() + 1;
    assert_eq!(shown.chars.len(), t);
    assert_eq!((shown.chars[0], shown.chars[1]), (None, Some('春')));
    let w = &shown.maps.weights;
    assert_eq!((w.len(), w[0].len(), w[0][0].len(), w[0][0][0].len()), (2, 4, t, t));
    for row in w.iter().flatten().flat_map(|head| head.iter().enumerate()) {
        let (i, weights) = row;
        assert!((weights.iter().sum::<f32>() - 1.0).abs() < 1e-5 && weights[i + 1..].iter().all(|&x| x == 0.0), "row {i}: {weights:?}");
    }
}

#[test]
fn gradient_flow_reaches_back_through_attention() {
    let trainer = tiny_transformer(6);
    let flow = block_on(trainer.gradient_flow()).unwrap();
    assert!(!flow.last_char.is_empty() && flow.last_char.len() == flow.whole_poem.len());
    assert!(flow.last_char.iter().chain(&flow.whole_poem).all(|x| x.is_finite()));
    // The last character's loss reaches the first positions' inputs (a recurrent cell's would
    // have to carry it through every state between).
    assert!(flow.last_char[0] > 0.0 && flow.last_char[flow.last_char.len() / 2] > 0.0, "{:?}", flow.last_char);
}

#[test]
fn settings_are_checked_and_the_budget_helper_keeps_heads_whole() {
    let bad = |s: ModelShape| s.validate(100).unwrap_err();
    assert!(bad(shape(true).with_embedding(18)).contains("divisible by the number of heads (4)"));
    assert!(bad(shape(true).with_heads(0)).contains("heads must be between 1 and the embedding size"));
    assert!(bad(shape(true).with_block_size(0)).contains("block size"));
    assert!(bad(ModelShape::new().with_bias(false)).contains("Transformer setting"));
    let s = ModelShape::new().with_cell(Cell::Transformer).with_layers(2).with_heads(4);
    let fitted = s.with_budget(6000, 2_500_000);
    assert_eq!(fitted.embedding % 4, 0);
    let count = PoemModelConfig::new(6000, fitted.clone()).num_params();
    let step = PoemModelConfig::new(6000, fitted.clone().with_embedding(fitted.embedding + 4)).num_params() - count;
    assert!(count.abs_diff(2_500_000) <= step, "{} parameters at n_embd {}", count, fitted.embedding);
    assert_eq!(s.hidden_for_budget(6000, 2_500_000), fitted.embedding);
}

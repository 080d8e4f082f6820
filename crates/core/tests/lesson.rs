//! One step, seen, and a line's guesses (`training::lesson`), on the homework's small corpus.
mod common;

use common::{block_on, tangshi, tiny_trainer};
use shige_core::training::lesson::{ParamGroup, Part};

#[test]
fn an_observed_step_is_the_same_step_and_its_probabilities_are_the_models() {
    let corpus = tangshi();
    let mut plain = tiny_trainer(&corpus, 3);
    let mut seen = tiny_trainer(&corpus, 3);
    block_on(plain.train_steps(5)).unwrap();
    block_on(seen.train_steps(5)).unwrap();

    // Before the step: the guesses along each poem of the batch the step will train on.
    let report = {
        let before_model = seen.model();
        let report = block_on(seen.observed_step()).unwrap();
        let loss = block_on(plain.train_step()).unwrap();
        assert_eq!(report.loss, loss, "the observed step trains as a plain one");
        assert_eq!(report.step, 6);
        assert_eq!(block_on(plain.model().params()[0].clone().into_data_async()).unwrap(), block_on(seen.model().params()[0].clone().into_data_async()).unwrap());
        // Every row's "before" is a direct evaluation of the model before the step.
        for row in &report.rows {
            let direct = block_on(shige_core::training::lesson::guesses(&before_model, &seen.vocab, &row.chars, row.ends, 0)).unwrap();
            assert_eq!(direct.len(), row.before.len());
            for (g, p) in direct.iter().zip(&row.before) {
                assert!((g.probability - p).abs() < 1e-5, "{} vs {p}", g.probability);
            }
        }
        report
    };
    assert_eq!(report.rows.len(), shige_core::training::lesson::SHOWN_ROWS, "the batch's first poems");
    // … and every "after" one of the model after it.
    for row in &report.rows {
        let direct = block_on(seen.guesses(&row.chars, row.ends, 0)).unwrap();
        for (g, p) in direct.iter().zip(&row.after) {
            assert!((g.probability - p).abs() < 1e-5, "{} vs {p}", g.probability);
        }
        let mean_loss = row.after.iter().map(|p| -p.ln()).sum::<f32>() / row.after.len() as f32;
        assert!((mean_loss - row.loss_after).abs() < 1e-4);
    }
    // The step lowered the loss on the batch it trained on, on the whole.
    let (before, after): (f32, f32) = report.rows.iter().map(|r| (r.loss_before, r.loss_after)).fold((0.0, 0.0), |a, b| (a.0 + b.0, a.1 + b.1));
    assert!(after < before, "{before} -> {after}");

    // Groups: every parameter once; the gradient norms add up to the step's global norm.
    let parts: Vec<(Part, Option<usize>)> = report.groups.iter().map(|g| (g.part, g.layer)).collect();
    assert_eq!(parts, vec![(Part::Embedding, None), (Part::Input, Some(0)), (Part::Recurrent, Some(0)), (Part::Output, None)]);
    assert_eq!(report.groups.iter().map(|g| g.params).sum::<usize>(), seen.model_config.num_params());
    let global = report.groups.iter().map(|g| g.grad_norm.powi(2)).sum::<f32>().sqrt();
    assert!((global - seen.last_grad_norm).abs() < 1e-3 * seen.last_grad_norm, "{global} vs {}", seen.last_grad_norm);
    assert!(report.groups.iter().all(|g| g.update_ratio > 0.0 && g.update_ratio < 1.0 && g.weight_norm > 0.0));
    assert_eq!(report.learning_rate, seen.config.learning_rate);
}

#[test]
fn guesses_follow_a_line_and_refuse_unknown_characters() {
    let corpus = tangshi();
    let trainer = tiny_trainer(&corpus, 4);
    // The opening of a training poem (the small corpus has no 床前明月光).
    let line: String = trainer.data().train[0].iter().take(5).map(|&t| trainer.vocab.char_of(t as usize).unwrap()).collect();
    let guesses = block_on(trainer.guesses(&line, false, 5)).unwrap();
    assert_eq!(guesses.len(), 5);
    assert_eq!(guesses.iter().map(|g| g.target.as_str()).collect::<String>(), line);
    for g in &guesses {
        assert_eq!(g.top.len(), 5);
        assert!(g.top.windows(2).all(|w| w[0].1 >= w[1].1), "sorted");
        assert!(g.probability <= g.top[0].1 + 1e-7);
        assert!(g.top.iter().all(|(c, _)| c != "<pad>" && !c.is_empty()));
    }
    let ended = block_on(trainer.guesses(&line, true, 1)).unwrap();
    assert_eq!(ended.last().unwrap().target, "EOS");
    assert!(matches!(block_on(trainer.guesses(&format!("{line}☃"), false, 1)), Err(shige_core::training::lesson::GuessError::UnknownChar('☃'))));
    assert!(block_on(trainer.guesses("", false, 1)).is_err());
}

#[test]
fn parameter_groups_by_name() {
    assert_eq!(ParamGroup::of("embedding.weight"), (Part::Embedding, None));
    assert_eq!(ParamGroup::of("gru.weight_ih_l1"), (Part::Input, Some(1)));
    assert_eq!(ParamGroup::of("lstm.bias_hh_l0"), (Part::Recurrent, Some(0)));
    assert_eq!(ParamGroup::of("fc.weight"), (Part::Output, None));
    assert_eq!(ParamGroup::of("proj.weight"), (Part::Output, None));
    assert_eq!(ParamGroup::of("transformer.wpe.weight"), (Part::Embedding, None));
    assert_eq!(ParamGroup::of("transformer.h.12.attn.c_attn.weight"), (Part::Attention, Some(12)));
    assert_eq!(ParamGroup::of("transformer.h.3.ln_2.bias"), (Part::Mlp, Some(3)));
    assert_eq!(ParamGroup::of("transformer.ln_f.weight"), (Part::Output, None));
}

#[test]
fn every_cell_steps_observed_and_names_its_parts() {
    use shige_core::{Cell, ModelShape, TrainConfig, Trainer};
    let corpus = tangshi();
    for cell in Cell::ALL {
        let shape = match cell {
            Cell::Transformer => ModelShape::new().with_cell(cell).with_embedding(24).with_heads(2).with_layers(2),
            _ => ModelShape::new().with_cell(cell).with_embedding(24).with_hidden(32).with_layers(2),
        };
        let config = TrainConfig::new().with_batch_size(8).with_max_seq_len(32).with_min_char_freq(1).with_seed(5);
        let mut trainer = Trainer::new(&corpus, shape, config, &common::cpu()).unwrap();
        let report = block_on(trainer.observed_step()).unwrap();
        assert_eq!(trainer.state.step, 1, "{cell:?}");
        assert_eq!(report.groups.iter().map(|g| g.params).sum::<usize>(), trainer.model_config.num_params(), "{cell:?}");
        let parts: Vec<(Part, Option<usize>)> = report.groups.iter().map(|g| (g.part, g.layer)).collect();
        let expected = match cell {
            Cell::Transformer => vec![(Part::Embedding, None), (Part::Attention, Some(0)), (Part::Mlp, Some(0)), (Part::Attention, Some(1)), (Part::Mlp, Some(1)), (Part::Output, None)],
            _ => vec![(Part::Embedding, None), (Part::Input, Some(0)), (Part::Recurrent, Some(0)), (Part::Input, Some(1)), (Part::Recurrent, Some(1)), (Part::Output, None)],
        };
        assert_eq!(parts, expected, "{cell:?}");
        let global = report.groups.iter().map(|g| g.grad_norm.powi(2)).sum::<f32>().sqrt();
        assert!((global - trainer.last_grad_norm).abs() < 1e-3 * trainer.last_grad_norm, "{cell:?}: {global} vs {}", trainer.last_grad_norm);
    }
}

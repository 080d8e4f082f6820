//! Poems the way readers judge them: rhyme-constrained decoding rhymes, the copy index finds
//! what was copied, and the quality figures hold together.
mod common;

use common::{block_on, tangshi, tiny_trainer};
use shige_core::eval::novelty::CopyIndex;
use shige_core::text::rhyme::{rhymes, rhymes_strictly};
use shige_core::{GenerateError, GenerateOptions, PoemForm, generate, is_well_formed};

#[test]
fn rhyme_constrained_quatrains_rhyme_for_50_seeds() {
    let corpus = tangshi();
    let mut trainer = tiny_trainer(&corpus, 11);
    block_on(trainer.train_steps(30)).unwrap();
    let model = trainer.model();
    for (form, seeds) in [(PoemForm::Qijue, 0..50), (PoemForm::Wulv, 0..10)] {
        for seed in seeds {
            let options = GenerateOptions { start: "月".into(), form, seed, temperature: 1.0, rhyme: true, ..Default::default() };
            let poem = block_on(generate(&model, &trainer.vocab, &options)).unwrap();
            assert!(is_well_formed(&poem), "{poem}");
            assert_eq!(rhymes(&poem), Some(true), "seed {seed}: {poem}");
            assert_eq!(rhymes_strictly(&poem), Some(true), "by first readings, seed {seed}: {poem}");
        }
    }
    for seed in 0..20 {
        let options = GenerateOptions { acrostic: "春夏秋冬".into(), form: PoemForm::Qijue, seed, temperature: 1.0, rhyme: true, ..Default::default() };
        let poem = block_on(generate(&model, &trainer.vocab, &options)).unwrap();
        assert_eq!(rhymes_strictly(&poem), Some(true), "藏头, seed {seed}: {poem}");
    }
    let free = GenerateOptions { start: "月".into(), rhyme: true, ..Default::default() };
    assert_eq!(block_on(generate(&model, &trainer.vocab, &free)).unwrap_err(), GenerateError::RhymeNeedsForm);
}

#[test]
fn the_repetition_penalty_cuts_repeats_of_a_looping_model() {
    let corpus = tangshi();
    let trainer = tiny_trainer(&corpus, 12); // untrained: greedy decoding loops on a few characters
    let model = trainer.model();
    let index = CopyIndex::new(corpus.train.iter().map(|p| p.content.as_slice()));
    let repeated = |penalty: f32| {
        let options = GenerateOptions { start: "山".into(), temperature: 0.0, repetition_penalty: penalty, max_chars: 40, ..Default::default() };
        index.measure(&block_on(generate(&model, &trainer.vocab, &options)).unwrap()).repeated
    };
    assert!(repeated(3.0) < repeated(1.0), "{} vs {}", repeated(3.0), repeated(1.0));
}

#[test]
fn quality_figures_hold_together() {
    let corpus = tangshi();
    let mut trainer = tiny_trainer(&corpus, 13);
    block_on(trainer.train_steps(30)).unwrap();
    let index = CopyIndex::new(corpus.train.iter().map(|p| p.content.as_slice()));
    let started = std::time::Instant::now();
    let now = move || started.elapsed().as_secs_f64() * 1e3;
    let q = block_on(shige_core::eval::quality::measure(&trainer.model(), &trainer.vocab, &index, &GenerateOptions::default(), 20, &now)).unwrap();
    assert_eq!(q.samples, 20);
    for share in [q.well_formed, q.rhyme_wujue, q.rhyme_qijue, q.copies_a_line, q.repeated] {
        assert!((0.0..=1.0).contains(&share), "{q:?}");
    }
    assert_eq!(q.rhyme_qijue_constrained, 1.0, "{q:?}");
    assert!(q.copied_mean >= 1.0 && q.copied_max as f64 >= q.copied_mean, "{q:?}");
    assert!(q.chars_per_second > 0.0);
}

#[test]
fn a_traced_poem_is_the_same_poem_with_the_models_view_of_each_step() {
    let corpus = tangshi();
    let mut trainer = tiny_trainer(&corpus, 14);
    block_on(trainer.train_steps(20)).unwrap();
    let model = trainer.model();
    let greedy = GenerateOptions { start: "山".into(), temperature: 0.0, max_chars: 24, ..Default::default() };
    let traced = block_on(shige_core::generate_traced(&model, &trainer.vocab, &greedy)).unwrap();
    assert_eq!(traced.text, block_on(generate(&model, &trainer.vocab, &greedy)).unwrap());
    // The start character is given, not chosen; every later one is the model's first choice.
    for step in &traced.steps[1..] {
        assert!(step.top.windows(2).all(|w| w[0].1 >= w[1].1), "{:?}", step.top);
        assert_eq!(step.top[0].0, step.char);
        assert!((step.probability - step.top[0].1).abs() < 1e-6, "{} vs {:?}", step.probability, step.top[0]);
        assert_eq!(step.gate.len(), trainer.model_config.shape.hidden);
    }
    // Sampled: the chosen character's probability is reported even when it is outside the top list.
    let sampled = GenerateOptions { start: "山".into(), temperature: 1.5, seed: 3, max_chars: 24, ..Default::default() };
    let traced = block_on(shige_core::generate_traced(&model, &trainer.vocab, &sampled)).unwrap();
    for step in &traced.steps[1..] {
        assert!(step.probability > 0.0 && step.probability <= 1.0);
        if let Some((_, p)) = step.top.iter().find(|(c, _)| *c == step.char) {
            assert!((p - step.probability).abs() < 1e-6);
        }
    }
}

//! The classroom's lesson in one step (`shige_core::training::lesson`): a step that reports
//! what it did, and a line's guesses as training goes on.

use shige_core::training::lesson::GuessError;
use wasm_bindgen::prelude::*;

use crate::Trainer;
use crate::errors::{Coded, busy, fail, reject};

impl Coded for GuessError {
    fn code(&self) -> (&'static str, Vec<(&'static str, String)>) {
        match self {
            GuessError::UnknownChar(c) => ("error.lesson.unknownChar", vec![("char", c.to_string())]),
            GuessError::Empty => ("error.lesson.empty", vec![]),
            GuessError::Read(e) => e.code(),
        }
    }
}

#[wasm_bindgen]
impl Trainer {
    /// Trains one step and resolves to what it did: `{ step, loss, learningRate, rows: [{ chars,
    /// ends, before, after, lossBefore, lossAfter }], groups: [{ part, layer, params, gradNorm,
    /// weightNorm, updateRatio }] }` (`StepReport`). Like `trainSteps(1)`, a step that is not
    /// finite is not applied and rejects.
    #[wasm_bindgen(js_name = observedStep)]
    pub fn observed_step(&self) -> js_sys::Promise {
        let (inner, last_good) = (self.inner.clone(), self.last_good.clone());
        wasm_bindgen_futures::future_to_promise(async move {
            let mut inner = inner.try_borrow_mut().map_err(|_| reject(busy()))?;
            let result = inner.trainer.observed_step().await;
            last_good.borrow_mut().state = inner.trainer.state.clone();
            let report = result.map_err(fail)?;
            Ok(serde_wasm_bindgen::to_value(&report)?)
        })
    }

    /// The model's guesses along `text`, teacher-forced: `[{ target, probability, top: [[char,
    /// p], …] }]`, `k` alternatives each; with `ends`, the last is the poem's end ("EOS").
    pub fn guesses(&self, text: String, ends: bool, k: usize) -> js_sys::Promise {
        let inner = self.inner.clone();
        wasm_bindgen_futures::future_to_promise(async move {
            let inner = inner.try_borrow().map_err(|_| reject(busy()))?;
            let guesses = inner.trainer.guesses(&text, ends, k.min(20)).await.map_err(fail)?;
            Ok(serde_wasm_bindgen::to_value(&guesses)?)
        })
    }
}

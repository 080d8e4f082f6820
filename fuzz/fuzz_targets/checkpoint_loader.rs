//! Any bytes: loading a checkpoint returns one or an error, never panics; what loads
//! serialises back to an equal checkpoint.
#![no_main]

use libfuzzer_sys::fuzz_target;
use shige_core::Checkpoint;

fuzz_target!(|data: &[u8]| {
    if let Ok(ckpt) = Checkpoint::from_bytes(data) {
        let again = Checkpoint::from_bytes(&ckpt.to_bytes()).expect("a saved checkpoint loads");
        assert_eq!(again.model, ckpt.model);
        assert_eq!(again.vocab, ckpt.vocab);
        assert_eq!(again.progress, ckpt.progress);
        assert_eq!(again.params.len(), ckpt.params.len());
    }
});

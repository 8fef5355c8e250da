//! Certificate, TcbInfo and chain parsing must never panic on any input.
#![no_main]

use aq_identity::tcbinfo::{TcbInfo, ueid_from_extension};
use aq_identity::verify::{describe_certificate, verify_chain};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = TcbInfo::from_der(data);
    let _ = ueid_from_extension(data);
    let _ = describe_certificate(data);
    // [alias len u16 BE][device len u16 BE] alias ‖ device ‖ anchor: a chain to verify.
    if data.len() >= 4 {
        let la = usize::from(u16::from_be_bytes([data[0], data[1]]));
        let ld = usize::from(u16::from_be_bytes([data[2], data[3]]));
        let body = &data[4..];
        if la + ld <= body.len() {
            let (a, rest) = body.split_at(la);
            let (d, t) = rest.split_at(ld);
            let _ = verify_chain(a, d, &[t], &[t], 1_767_225_600);
        }
    }
});

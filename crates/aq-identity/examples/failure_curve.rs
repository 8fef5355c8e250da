//! Prints the analytic key failure probability of the default profile and of the published
//! reference point over 10–22% bit error rate, and the entropy accounting.
//!
//! `cargo run -p aq-identity --example failure_curve`

use aq_identity::analysis::{
    entropy_accounting, key_failure_probability, log10_key_failure_probability,
};
use aq_identity::profile::Profile;

fn main() {
    let (d, r) = (Profile::DEFAULT, Profile::PUBLISHED_REFERENCE);
    println!("key failure probability per reconstruction (analytic, i.i.d. bit errors)");
    println!("{:>6}  {:>26}  {:>34}", "BER", d.name, r.name);
    for i in 10..=22 {
        let ber = f64::from(i) / 100.0;
        let fmt = |p: &Profile| {
            let x = key_failure_probability(p, ber);
            if x > 0.0 {
                format!("{x:.3e}")
            } else {
                format!("1e{:.1}", log10_key_failure_probability(p, ber))
            }
        };
        println!("{:>5}%  {:>26}  {:>34}", i, fmt(&d), fmt(&r));
    }
    println!();
    for p in [d, r] {
        let a = entropy_accounting(&p, 1.0);
        println!(
            "{}: min-entropy in {:.0} bits ({} pairs × {:.2}), leakage: map {:.0} + sketch {:.0} + tag {:.0} → residual {:.0} bits, output {} bits",
            p.name,
            a.min_entropy_in,
            a.selected_pairs,
            a.min_entropy_per_pair,
            a.leakage_selection_map,
            a.leakage_sketch,
            a.leakage_tag,
            a.residual_min_entropy,
            a.output_bits
        );
    }
}

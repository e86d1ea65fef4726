//! Decisions per second of the pure engine on one thread, over the
//! generated default population (facts → variables → decision, with trace,
//! reasons and the grade-up search). `cargo bench -p backend --bench engine`.

use std::hint::black_box;

use backend::credit::generate::{DEFAULT_SEED, default_as_of, generate};
use backend::decision::{Policy, decide};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

fn engine(c: &mut Criterion) {
    let policy = Policy::current();
    let population = generate(5_000, DEFAULT_SEED, default_as_of()).facts();
    let day = default_as_of();
    let mut group = c.benchmark_group("engine");
    group.throughput(Throughput::Elements(population.len() as u64));
    group.bench_function("decide_5000_merchants", |b| {
        b.iter(|| {
            let mut offers = 0usize;
            for f in &population {
                let d = decide(&policy, black_box(f), day);
                offers += usize::from(d.terms.is_some());
            }
            black_box(offers)
        })
    });
    group.finish();
}

criterion_group!(benches, engine);
criterion_main!(benches);

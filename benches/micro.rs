//! Criterion micro-benchmarks of the bot's hot path: channel-token validation cold
//! (signature checked) and cached (seen before), activity parsing, intent matching, and card
//! expansion. Figures only.
//!
//!     cargo bench --bench micro

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a benchmark's set-up fails loudly"
)]

#[path = "common/stand.rs"]
mod stand;

use std::{hint::black_box, sync::Arc, time::Duration};

use criterion::{Criterion, criterion_group, criterion_main};
use octopus_teams::{
    clock::SystemClock,
    i18n::{Locale, Strings},
    teams::auth::{channel::ChannelAuth, jwks::OpenIdKeys, verified::VerifiedTokens},
    teams::bot::{
        activity::Activity,
        cards::{Card, Cards},
        intent::intent,
    },
};
use serde_json::json;

fn auth(stand: &stand::Stand, capacity: usize) -> ChannelAuth {
    let clock = Arc::new(SystemClock);
    let keys = OpenIdKeys::new(
        format!("{}/v1/.well-known/openidconfiguration", stand.base)
            .parse()
            .unwrap(),
        reqwest::Client::new(),
        Duration::from_secs(86_400),
        Duration::from_secs(300),
        clock.clone(),
    );
    ChannelAuth {
        keys: Arc::new(keys),
        app_id: stand::APP_ID.into(),
        issuer: stand::ISSUER.into(),
        entra: None,
        verified: VerifiedTokens::new(clock, capacity),
    }
}

fn tokens(c: &mut Criterion) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let stand = rt.block_on(stand::stand_ins());
    let service_url = format!("{}/amer/", stand.base);
    // Two tokens (their `nbf` a second apart) and room for one: every look-up misses.
    let a = format!("Bearer {}", stand.channel_token());
    std::thread::sleep(Duration::from_millis(1100));
    let b = format!("Bearer {}", stand.channel_token());
    assert_ne!(a, b);
    let cold = auth(&stand, 1);
    let cached = auth(&stand, 16);
    for auth in [&cold, &cached] {
        rt.block_on(auth.verify(Some(&a), "msteams", &service_url))
            .unwrap();
    }
    let mut i = 0usize;
    c.bench_function("channel token: cold (RS256 verify)", |bench| {
        bench.iter(|| {
            i += 1;
            let t = if i.is_multiple_of(2) { &a } else { &b };
            rt.block_on(cold.verify(Some(black_box(t)), "msteams", &service_url))
                .unwrap();
        })
    });
    c.bench_function("channel token: cached", |bench| {
        bench.iter(|| {
            rt.block_on(cached.verify(Some(black_box(&a)), "msteams", &service_url))
                .unwrap();
        })
    });
}

fn parsing(c: &mut Criterion) {
    let message = json!({
        "type": "message", "id": "1234567890", "channelId": "msteams",
        "serviceUrl": "https://smba.trafficmanager.net/amer/", "text": "<at>Octopus</at> aide",
        "locale": "fr-CA", "timestamp": "2026-09-02T12:00:00.000Z",
        "from": {"id": "29:1abcdefghijklmnopqrstuvwxyz", "name": "Julie Tremblay", "aadObjectId": "11111111-1111-1111-1111-111111111111"},
        "recipient": {"id": "28:2b3c4d5e-6f70-4182-9a3b-4c5d6e7f8091", "name": "Octopus"},
        "conversation": {"id": "a:1abcdefghijklmnopqrstuvwxyz0123456789", "conversationType": "personal", "tenantId": stand::TENANT},
        "entities": [{"type": "clientInfo", "locale": "fr-CA", "country": "CA", "platform": "Windows", "timezone": "America/Toronto"}],
        "channelData": {"tenant": {"id": stand::TENANT}}
    })
    .to_string();
    c.bench_function("activity: parse a Teams message", |bench| {
        bench.iter(|| serde_json::from_str::<Activity>(black_box(&message)).unwrap())
    });
}

fn intents(c: &mut Criterion) {
    let texts = [
        "aide",
        "J'ai oublié mon mot de passe",
        "I forgot my password, please help",
        "Esqueci a minha senha",
        "quelque chose que le bot ne comprend pas du tout",
    ];
    c.bench_function("intent: five sentences", |bench| {
        bench.iter(|| {
            for t in texts {
                black_box(intent(black_box(t)));
            }
        })
    });
}

fn cards(c: &mut Criterion) {
    let cards = Cards::load(Strings::load().unwrap()).unwrap();
    c.bench_function("card: welcome, fr-CA", |bench| {
        bench.iter(|| {
            cards.render(
                Card::Welcome,
                Locale::FrCa,
                json!({"orgName": "Cégep de Sept-Îles", "portalUrl": "https://octopus.example.org/"}),
            )
        })
    });
    c.bench_function("card: welcome, fr-CA, serialised", |bench| {
        bench.iter(|| {
            serde_json::to_vec(&cards.render(
                Card::Welcome,
                Locale::FrCa,
                json!({"orgName": "Cégep de Sept-Îles", "portalUrl": "https://octopus.example.org/"}),
            ))
            .unwrap()
        })
    });
}

criterion_group!(benches, tokens, parsing, intents, cards);
criterion_main!(benches);

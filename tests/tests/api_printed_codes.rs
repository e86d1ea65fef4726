//! Every printed stall card of the demo market, as the manager's console
//! gets it: its SVG drawn into a bitmap, decoded by `rqrr` (a decoder that
//! shares nothing with the `qrcode` crate that drew it), and the decoded URL
//! opened on the server, which must show that card's stall. Then again with
//! 15% of the modules covered, as dust and scratches cover a sticker on a
//! stone-market stall: the code is printed at error-correction level Q,
//! which restores a quarter of it.

use reqwest::StatusCode;
use serde_json::json;
use shared::manager::{StallCard, StallList};
use shared::merchant::CodeInfo;

/// The demo manager that `backend seed-demo` creates.
async fn demo_manager() -> reqwest::Client {
    let client = e2e::client();
    let res = client
        .post(e2e::url("/api/staff/session"))
        .json(&json!({ "username": "wanshi", "password": "wanshi-demo-2026" }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    client
}

/// A card's SVG as a greyscale bitmap, one pixel per SVG unit: the white
/// background, then each dark rectangle of the path. Anything else in the
/// drawing fails the test instead of being ignored.
struct Bitmap {
    size: usize,
    pixels: Vec<u8>,
    /// Pixels per module, and modules per side without the quiet zone.
    unit: usize,
    modules: usize,
}

impl Bitmap {
    fn from_svg(svg: &str) -> Self {
        let number = |name: &str| -> usize {
            let at = svg.find(&format!(" {name}=\"")).unwrap() + name.len() + 3;
            svg[at..].split('"').next().unwrap().parse().unwrap()
        };
        let (width, height) = (number("width"), number("height"));
        assert_eq!(width, height, "a square code");
        let d_at = svg.find(" d=\"").expect("one path") + 4;
        let d = svg[d_at..].split('"').next().unwrap();
        // Every subpath is `M{x} {y}h{w}v{h}H{x}V{y}`: one dark rectangle.
        let mut rects = Vec::new();
        for sub in d.split('M').filter(|s| !s.is_empty()) {
            let n: Vec<usize> = sub
                .split(|c: char| c == ' ' || c.is_ascii_alphabetic())
                .filter(|s| !s.is_empty())
                .map(|s| s.parse().unwrap_or_else(|_| panic!("{sub}")))
                .collect();
            assert!(
                n.len() == 6 && n[4] == n[0] && n[5] == n[1],
                "not a rectangle: M{sub}"
            );
            rects.push((n[0], n[1], n[2], n[3]));
        }
        let unit = rects.iter().map(|r| r.2).min().expect("dark modules");
        let mut pixels = vec![255u8; width * width];
        for (x, y, w, h) in rects {
            for py in y..y + h {
                pixels[py * width + x..py * width + x + w].fill(0);
            }
        }
        // Four modules of quiet zone on each side.
        Bitmap {
            size: width,
            pixels,
            unit,
            modules: width / unit - 8,
        }
    }

    /// Paints a square of modules, the given share of all of them, in the
    /// middle of the symbol (clear of the finder and alignment patterns,
    /// which locate the code rather than carry it).
    fn cover(&self, share: f64, shade: u8) -> Self {
        let n = self.modules;
        let side = ((share * (n * n) as f64).sqrt()).ceil() as usize;
        assert!(side * side >= (share * (n * n) as f64) as usize);
        let start = (n - side) / 2;
        assert!(
            share > 0.2 || start + side < n - 9,
            "clear of the alignment pattern"
        );
        let mut pixels = self.pixels.clone();
        for my in start..start + side {
            for mx in start..start + side {
                let (px, py) = ((mx + 4) * self.unit, (my + 4) * self.unit);
                for y in py..py + self.unit {
                    pixels[y * self.size + px..y * self.size + px + self.unit].fill(shade);
                }
            }
        }
        Bitmap { pixels, ..*self }
    }

    fn decode(&self) -> Result<String, String> {
        let mut image =
            rqrr::PreparedImage::prepare_from_greyscale(self.size, self.size, |x, y| {
                self.pixels[y * self.size + x]
            });
        let grids = image.detect_grids();
        let [grid] = grids.as_slice() else {
            return Err(format!("{} codes found", grids.len()));
        };
        grid.decode()
            .map(|(_, text)| text)
            .map_err(|e| format!("{e:?}"))
    }
}

/// The decoded text opens the card's stall, on the page and through the API.
async fn assert_opens(text: &str, card: &StallCard) {
    let res = e2e::client().get(text).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK, "{text}");
    let page = res.text().await.unwrap();
    assert!(
        page.contains(&format!("id=\"code-stall\">{}<", card.number)),
        "{text} shows stall {}",
        card.number
    );
    let code = shared::stall_code::code_in_url(text).unwrap();
    let info: CodeInfo = e2e::client()
        .get(e2e::url(&format!("/api/m/codes/{code}")))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(info.stall_number.as_deref(), Some(card.number.as_str()));
    assert_eq!(info.market_name, card.market_name);
}

#[tokio::test]
async fn every_printed_card_decodes_whole_and_with_15_percent_covered() {
    let manager = demo_manager().await;
    let list: StallList = manager
        .get(e2e::url("/api/manager/stalls"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(list.stalls.len() >= 40, "{} stalls", list.stalls.len());
    let ids: Vec<&str> = list.stalls.iter().map(|s| s.id.as_str()).collect();
    let res = manager
        .post(e2e::url("/api/manager/cards"))
        .json(&json!({ "stall_ids": ids }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let cards: Vec<StallCard> = res.json().await.unwrap();
    assert_eq!(cards.len(), ids.len());

    for card in &cards {
        let image = Bitmap::from_svg(&card.qr_svg);
        // Version 4 (33 modules) for a URL of this server's length.
        assert_eq!(image.modules, 33, "stall {}", card.number);
        let text = image
            .decode()
            .unwrap_or_else(|e| panic!("{}: {e}", card.number));
        // The QR text is the card's URL, with scheme and host in upper case
        // (QR alphanumeric mode), which name the same server.
        assert_eq!(text.to_ascii_lowercase(), card.url.to_ascii_lowercase());
        assert_opens(&text, card).await;

        for (shade, what) in [(255, "scratched off"), (0, "dirt")] {
            let damaged = image.cover(0.15, shade);
            let read = damaged
                .decode()
                .unwrap_or_else(|e| panic!("{} with 15% {what}: {e}", card.number));
            assert_eq!(read, text, "{} with 15% {what}", card.number);
        }
    }
    // The damage is real: a third of the modules covered is past what level
    // Q restores, and the decoder says so rather than misreading.
    let beyond = Bitmap::from_svg(&cards[0].qr_svg).cover(0.33, 255);
    assert!(beyond.decode().is_err());
}

//! Every printed stall card of the demo market, as the manager's console
//! gets it: its SVG drawn into a bitmap, decoded by `rqrr` (a decoder that
//! shares nothing with the `qrcode` crate that drew it), and the decoded URL
//! opened on the server, which must show that card's stall. Then again with
//! 15% of the modules covered by a scratch from top to bottom (scratched off
//! white, or dirt black), as on a sticker on a stone-market stall: the code
//! is printed at error-correction level Q, which restores a quarter of its
//! codewords. A scratch crosses few of the codewords' 2×4-module cells; a
//! square blot of the same area crosses about twice as many, and a 13×13
//! one decodes only where it happens to sit (about a third of positions),
//! which is why the damage here is a band.

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

    /// Paints a scratch from the top of the symbol to the bottom, `width`
    /// modules wide, starting at module column `left`.
    fn scratch(&self, left: usize, width: usize, shade: u8) -> Self {
        let mut pixels = self.pixels.clone();
        let (x0, x1) = ((left + 4) * self.unit, (left + width + 4) * self.unit);
        for y in 4 * self.unit..(self.modules + 4) * self.unit {
            pixels[y * self.size + x0..y * self.size + x1].fill(shade);
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

/// The decoded text opens the card's stall on the server under test, on the
/// page and through the API. (The test server prints its configured public
/// URL, whose port is not the ephemeral one it listens on, so the path is
/// opened on the server under test.)
async fn assert_opens(text: &str, card: &StallCard) {
    let path = &text[text.find("/S/").unwrap_or_else(|| panic!("{text}"))..];
    let res = e2e::client().get(e2e::url(path)).send().await.unwrap();
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
        // Version 4 (33 modules) at most, for a URL of this server's length.
        assert!(
            image.modules <= 33,
            "stall {}: {}",
            card.number,
            image.modules
        );
        let text = image
            .decode()
            .unwrap_or_else(|e| panic!("{}: {e}", card.number));
        // The QR text is the card's URL, with scheme and host in upper case
        // (QR alphanumeric mode), which name the same server.
        assert_eq!(text.to_ascii_lowercase(), card.url.to_ascii_lowercase());
        assert_opens(&text, card).await;

        // 15% of the modules: a band 5 modules wide on a 33-module side,
        // anywhere clear of the finder patterns (which locate the code) and
        // of column 8 (which holds both copies of the format information).
        let width = (0.15 * image.modules as f64).ceil() as usize;
        assert!(width * image.modules * 100 >= 15 * image.modules * image.modules);
        let lefts: Vec<usize> = if card.number == cards[0].number {
            (9..image.modules - 8 - width + 1).collect()
        } else {
            vec![(image.modules - width) / 2]
        };
        for left in lefts {
            for (shade, what) in [(255, "scratched off"), (0, "dirt")] {
                let read = image
                    .scratch(left, width, shade)
                    .decode()
                    .unwrap_or_else(|e| panic!("{} with 15% {what} at {left}: {e}", card.number));
                assert_eq!(read, text, "{} with 15% {what} at {left}", card.number);
            }
        }
    }
    // The damage is real: a band of a third of the modules is past what
    // level Q restores, and the decoder says so rather than misreading.
    let first = Bitmap::from_svg(&cards[0].qr_svg);
    assert!(first.scratch(9, 11, 255).decode().is_err());
}

//! Login with mobile number and SMS code. The number is checked in the
//! browser with the server's own parser first, so a typo costs no SMS.

use gloo_timers::callback::Timeout;
use shared::consent::NextStep;
use shared::ids::MobileNumber;
use shared::merchant::{OtpRequest, SessionRequest};
use yew::prelude::*;
use yew_router::prelude::*;

use crate::api::ApiError;
use crate::api::merchant as api;
use crate::app::Route;
use crate::components::{ButtonSpinner, ErrorAlert, Notice, TextField, use_page_title};
use crate::i18n::{Lang, Msg};
use crate::state::{scanned_code, use_lang};

/// Used when the server does not say how long to wait before a resend.
const DEFAULT_RESEND_SECONDS: u32 = 60;

#[derive(Clone, PartialEq, Default)]
enum Busy {
    #[default]
    Idle,
    SendingOtp,
    LoggingIn,
}

#[component]
pub fn Login() -> Html {
    let lang = use_lang();
    use_page_title(lang.pick("登录", "Log in"));
    let navigator = use_navigator();
    let mobile = use_state(String::new);
    let otp = use_state(String::new);
    let mobile_error = use_state(|| None::<Msg>);
    let otp_error = use_state(|| None::<Msg>);
    let error = use_state(|| None::<ApiError>);
    let busy = use_state(Busy::default);
    let sent_to = use_state(|| None::<String>);
    let countdown = use_state(|| 0u32);

    // One tick per second while counting down; dropping the Timeout (on the
    // next tick or when the screen goes away) cancels it.
    {
        let countdown = countdown.clone();
        use_effect_with(*countdown, move |&left| {
            let tick = (left > 0).then(|| Timeout::new(1_000, move || countdown.set(left - 1)));
            move || drop(tick)
        });
    }

    let on_mobile = {
        let (mobile, mobile_error) = (mobile.clone(), mobile_error.clone());
        Callback::from(move |v: String| {
            mobile.set(v);
            mobile_error.set(None);
        })
    };
    let on_otp = {
        let (otp, otp_error) = (otp.clone(), otp_error.clone());
        Callback::from(move |v: String| {
            // Keep digits only: SMS autofill sometimes brings spaces along.
            otp.set(v.chars().filter(char::is_ascii_digit).take(6).collect());
            otp_error.set(None);
        })
    };

    let send_otp = {
        let (mobile, mobile_error, error, busy) = (
            mobile.clone(),
            mobile_error.clone(),
            error.clone(),
            busy.clone(),
        );
        let (sent_to, countdown) = (sent_to.clone(), countdown.clone());
        Callback::from(move |_: MouseEvent| {
            let number = match MobileNumber::parse(&mobile) {
                Ok(n) => n,
                Err(e) => {
                    mobile_error.set(Some(Msg::from(e)));
                    return;
                }
            };
            error.set(None);
            busy.set(Busy::SendingOtp);
            let req = OtpRequest {
                mobile: number.as_str().to_owned(),
                code: scanned_code(),
            };
            let (mobile_error, error, busy) = (mobile_error.clone(), error.clone(), busy.clone());
            let (sent_to, countdown) = (sent_to.clone(), countdown.clone());
            wasm_bindgen_futures::spawn_local(async move {
                match api::send_otp(&req).await {
                    Ok(sent) => {
                        sent_to.set(Some(sent.mobile_masked));
                        countdown.set(match sent.resend_after_seconds {
                            0 => DEFAULT_RESEND_SECONDS,
                            s => s,
                        });
                    }
                    Err(e) => {
                        if let Some(f) = e.field("mobile") {
                            mobile_error.set(Some(Msg::from(f)));
                        }
                        if !e.has_field_errors() {
                            error.set(Some(e));
                        }
                    }
                }
                busy.set(Busy::Idle);
            });
        })
    };

    let log_in = {
        let (mobile, otp, mobile_error, otp_error) = (
            mobile.clone(),
            otp.clone(),
            mobile_error.clone(),
            otp_error.clone(),
        );
        let (error, busy) = (error.clone(), busy.clone());
        Callback::from(move |e: SubmitEvent| {
            e.prevent_default();
            let number = match MobileNumber::parse(&mobile) {
                Ok(n) => n,
                Err(e) => {
                    mobile_error.set(Some(Msg::from(e)));
                    return;
                }
            };
            if otp.len() != 6 {
                otp_error.set(Some(Msg::new(
                    "请输入短信中的6位验证码",
                    "Enter the 6 digits from the SMS",
                )));
                return;
            }
            error.set(None);
            busy.set(Busy::LoggingIn);
            let req = SessionRequest {
                mobile: number.as_str().to_owned(),
                otp: (*otp).clone(),
            };
            let (mobile_error, otp_error, error, busy) = (
                mobile_error.clone(),
                otp_error.clone(),
                error.clone(),
                busy.clone(),
            );
            let navigator = navigator.clone();
            wasm_bindgen_futures::spawn_local(async move {
                match api::log_in(&req).await {
                    Ok(me) => {
                        busy.set(Busy::Idle);
                        // A returning merchant continues where they left off.
                        let next = match me.next_step {
                            NextStep::Profile => Route::Profile,
                            NextStep::Authorize => Route::Authorize,
                            NextStep::Decision => Route::Decision,
                            NextStep::Application => Route::Application,
                        };
                        if let Some(nav) = navigator {
                            nav.push(&next);
                        }
                    }
                    Err(e) => {
                        if let Some(f) = e.field("mobile") {
                            mobile_error.set(Some(Msg::from(f)));
                        }
                        if let Some(f) = e.field("otp") {
                            otp_error.set(Some(Msg::from(f)));
                        }
                        if !e.has_field_errors() {
                            error.set(Some(e));
                        }
                        busy.set(Busy::Idle);
                    }
                }
            });
        })
    };

    let waiting = *busy != Busy::Idle;
    let can_send = !waiting && *countdown == 0;
    let send_label = match (&*busy, *countdown, sent_to.is_some()) {
        (Busy::SendingOtp, _, _) => {
            html! { <><ButtonSpinner />{ lang.pick("发送中", "Sending") }</> }
        }
        (_, left, _) if left > 0 => html! {
            <span id="otp-countdown">{ match lang {
                Lang::Zh => format!("{left}秒后重发"),
                Lang::En => format!("Resend in {left}s"),
            } }</span>
        },
        (_, _, true) => html! { lang.pick("重新获取", "Send again") },
        _ => html! { lang.pick("获取验证码", "Get code") },
    };

    html! {
        <section id="login-page">
            <h1>{ lang.pick("手机号登录", "Log in with your mobile") }</h1>
            <form onsubmit={log_in} novalidate=true>
                <TextField id="mobile" label={lang.pick("手机号码", "Mobile number")}
                           value={(*mobile).clone()} oninput={on_mobile}
                           error={mobile_error.as_ref().map(|m| m.in_lang(lang))}
                           input_type="tel" inputmode="tel" autocomplete="tel" maxlength="20">
                    <button type="button" id="send-otp" class="btn secondary"
                            disabled={!can_send} aria-live="polite" onclick={send_otp}>
                        { send_label }
                    </button>
                </TextField>
                if let Some(masked) = &*sent_to {
                    <Notice id="otp-sent">{ match lang {
                        Lang::Zh => format!("验证码已发送至 {masked}"),
                        Lang::En => format!("Code sent to {masked}"),
                    } }</Notice>
                }
                <TextField id="otp" label={lang.pick("短信验证码", "SMS code")}
                           value={(*otp).clone()} oninput={on_otp}
                           error={otp_error.as_ref().map(|m| m.in_lang(lang))}
                           inputmode="numeric" autocomplete="one-time-code" maxlength="6" />
                if let Some(e) = &*error {
                    <ErrorAlert id="login-error" error={e.clone()} />
                }
                <button type="submit" id="login" class="btn block" disabled={waiting}>
                    if *busy == Busy::LoggingIn {
                        <ButtonSpinner />{ lang.pick("登录中…", "Logging in…") }
                    } else {
                        { lang.pick("登录", "Log in") }
                    }
                </button>
            </form>
            <p class="muted">{ lang.pick(
                "登录即表示您同意我们用此号码联系您。未经您授权，不会查询任何信用信息。",
                "By logging in you agree that we may contact you on this number. No credit data is read without your consent.",
            ) }</p>
        </section>
    }
}

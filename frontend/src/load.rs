//! How every screen loads its data: [`Load`] says where a fetch stands,
//! [`use_load`] runs it when the screen opens, again when its inputs change,
//! and on "retry".
//!
//! Only the newest fetch may land: if the inputs change twice quickly (typing
//! in a search box), an older answer arriving late is dropped rather than
//! shown over the newer one.

use std::cell::RefCell;
use std::future::Future;
use std::ops::Deref;
use std::rc::Rc;

use yew::prelude::*;

use crate::api::ApiError;

/// Data a screen is waiting for.
#[derive(Clone, PartialEq)]
pub enum Load<T> {
    Loading,
    Loaded(T),
    /// The server's refusal (its `AppError` body) or no answer at all.
    Failed(ApiError),
}

impl<T> From<Result<T, ApiError>> for Load<T> {
    fn from(r: Result<T, ApiError>) -> Self {
        match r {
            Ok(v) => Load::Loaded(v),
            Err(e) => Load::Failed(e),
        }
    }
}

/// A running [`use_load`]: reads as the [`Load`] it holds.
pub struct UseLoad<T> {
    state: UseStateHandle<Load<T>>,
    again: Again,
}

impl<T> Clone for UseLoad<T> {
    fn clone(&self) -> Self {
        Self {
            state: self.state.clone(),
            again: self.again.clone(),
        }
    }
}

impl<T> Deref for UseLoad<T> {
    type Target = Load<T>;
    fn deref(&self) -> &Load<T> {
        &self.state
    }
}

impl<T: 'static> UseLoad<T> {
    /// Fetch again from scratch, with the spinner: for "try again".
    pub fn retry(&self) -> Callback<()> {
        self.again.retry()
    }

    /// Fetch again while what is shown stays on screen: after the screen
    /// changed something itself (a withdrawal, a saved stall).
    pub fn refresh(&self) {
        self.again.run(true)
    }

    /// The data an action's answer already holds: no fetch needed.
    pub fn set(&self, value: T) {
        self.again.control.borrow_mut().newest += 1;
        self.state.set(Load::Loaded(value));
    }
}

#[derive(Default)]
struct Control {
    /// Bumped by `retry`/`refresh`: a fetch the inputs did not ask for.
    runs: u32,
    /// How that fetch shows itself: keep the data on screen, or the spinner.
    next_keeps_shown: Option<bool>,
    /// The newest fetch; an answer to an older one is dropped.
    newest: u32,
}

impl Control {
    /// Starts a fetch: its number, and whether to put the spinner back (the
    /// first fetch finds it there already).
    fn begin(&mut self, keep_shown: bool) -> (u32, bool) {
        let keep = self.next_keeps_shown.take().unwrap_or(keep_shown);
        self.newest += 1;
        (self.newest, !keep && self.newest > 1)
    }
}

/// What asks for a fetch the inputs did not: the same for every `T`, so the
/// bundle holds it once.
#[derive(Clone)]
struct Again {
    control: Rc<RefCell<Control>>,
    rerender: yew::functional::UseForceUpdateHandle,
}

impl Again {
    fn run(&self, keep_shown: bool) {
        {
            let mut c = self.control.borrow_mut();
            c.runs += 1;
            c.next_keeps_shown = Some(keep_shown);
        }
        self.rerender.force_update();
    }

    fn retry(&self) -> Callback<()> {
        let again = self.clone();
        Callback::from(move |()| again.run(false))
    }
}

/// Loads data with `fetch(deps)`: when the screen opens and whenever `deps`
/// change, showing [`Load::Loading`] meanwhile (the old data belonged to
/// other inputs).
#[hook]
pub fn use_load<D, T, F, Fut>(deps: D, fetch: F) -> UseLoad<T>
where
    D: PartialEq + Clone + 'static,
    T: 'static,
    F: FnOnce(D) -> Fut + 'static,
    Fut: Future<Output = Result<T, ApiError>> + 'static,
{
    use_load_with(false, || None, deps, fetch)
}

/// [`use_load`] on a page that may already hold the answer (the server
/// rendered it): `given` is asked once, when the screen opens; if it answers,
/// that is shown at once and the first fetch is skipped. Retry and changed
/// `deps` fetch as usual.
#[hook]
pub fn use_load_given<G, D, T, F, Fut>(given: G, deps: D, fetch: F) -> UseLoad<T>
where
    G: FnOnce() -> Option<Result<T, ApiError>> + 'static,
    D: PartialEq + Clone + 'static,
    T: 'static,
    F: FnOnce(D) -> Fut + 'static,
    Fut: Future<Output = Result<T, ApiError>> + 'static,
{
    use_load_with(false, given, deps, fetch)
}

/// [`use_load`] for a list narrowed as the user types: while the new answer
/// comes, the current list stays (the search box with it).
#[hook]
pub fn use_load_keeping<D, T, F, Fut>(deps: D, fetch: F) -> UseLoad<T>
where
    D: PartialEq + Clone + 'static,
    T: 'static,
    F: FnOnce(D) -> Fut + 'static,
    Fut: Future<Output = Result<T, ApiError>> + 'static,
{
    use_load_with(true, || None, deps, fetch)
}

#[hook]
fn use_load_with<G, D, T, F, Fut>(keep_shown: bool, given: G, deps: D, fetch: F) -> UseLoad<T>
where
    G: FnOnce() -> Option<Result<T, ApiError>> + 'static,
    D: PartialEq + Clone + 'static,
    T: 'static,
    F: FnOnce(D) -> Fut + 'static,
    Fut: Future<Output = Result<T, ApiError>> + 'static,
{
    // Set when `given` answered: the first fetch is not needed.
    let answered = use_mut_ref(|| false);
    let state = {
        let answered = answered.clone();
        use_state(move || match given() {
            Some(result) => {
                *answered.borrow_mut() = true;
                result.into()
            }
            None => Load::Loading,
        })
    };
    let again = Again {
        control: use_mut_ref(Control::default),
        rerender: use_force_update(),
    };
    let runs = again.control.borrow().runs;
    {
        let (state, control) = (state.clone(), again.control.clone());
        use_effect_with((deps, runs), move |(deps, _)| {
            if std::mem::take(&mut *answered.borrow_mut()) {
                // Counted, so a later fetch shows the spinner as usual.
                control.borrow_mut().newest += 1;
                return;
            }
            let (this, spinner) = control.borrow_mut().begin(keep_shown);
            if spinner {
                state.set(Load::Loading);
            }
            let answer = fetch(deps.clone());
            wasm_bindgen_futures::spawn_local(async move {
                let result = answer.await;
                if control.borrow().newest == this {
                    state.set(result.into());
                }
            });
        });
    }
    UseLoad { state, again }
}

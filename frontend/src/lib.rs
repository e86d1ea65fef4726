//! Market Code (市场码) in the browser: two Yew apps over one library. The
//! merchant app (`main.rs`, served at `/`) and the staff console
//! (`bin/staff.rs`, served for `/manager`, `/ops`, `/bank`) each link only the
//! screens their router reaches, so a merchant's phone never downloads the
//! console. Moving between the two is a full page load.

pub mod api;
pub mod app;
pub mod components;
pub mod i18n;
pub mod load;
pub mod pages;
pub mod prerendered;
pub mod staff_app;
pub mod state;

/// Mounts an app on the page.
pub fn start<A>()
where
    A: yew::BaseComponent,
    A::Properties: Default,
{
    // The HTML page shows a spinner while the bundle downloads; once we run,
    // the app draws its own.
    if let Some(boot) = web_sys::window()
        .and_then(|w| w.document())
        .and_then(|d| d.get_element_by_id("boot"))
    {
        boot.remove();
    }
    match prerendered::app_host() {
        Some(host) => yew::Renderer::<A>::with_root(host).render(),
        None => yew::Renderer::<A>::new().render(),
    };
}

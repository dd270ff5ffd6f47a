"""Made for the lecture hall: presenter mode, keyboard stepping and "copy link to this view".

Presenter mode (the sidebar switch, or ``?present=1`` in a link) makes text and figures
readable from the back of a hall: a larger base font (Streamlit's Plotly theme sizes figure
text in rem, so the figures' text grows with it), black on white
with thicker outlines, the toolbar and decorations hidden and the sidebar collapsed when
the link opens. It lasts for the session, across pages, and every page's URL carries
``present=1`` so a prepared link opens in it.

The keys → ← and space step and play the step-through animations in the browser (no
server rerun): the script below moves the figure's own slider, as a click would, so the
keyboard and the mouse always agree on the current step.
"""

from __future__ import annotations

import streamlit as st

from ui import state

__all__ = [
    "PRESENT",
    "PRESENT_FONT_PX",
    "controls",
    "page_config",
    "presenting",
]

PRESENT = state.PRESENT  # widget key and URL key

#: Root font size in presenter mode (Streamlit sizes text and widgets in rem; its default
#: is 16 px). 22 px is readable from about 15 m on a 3 m projected image.
PRESENT_FONT_PX = 22

_PRESENT_CSS = f"""
<style>
html {{ font-size: {PRESENT_FONT_PX}px; }}
.stApp, .stApp p, .stApp li, .stApp label, .stApp span {{ color: #000; }}
.stApp [data-testid="stBaseButton-primary"] p,
.stApp [data-testid="stBaseButton-primaryFormSubmit"] p {{ color: #fff; }}
.stApp {{ background: #fff; }}
[data-testid="stToolbarActions"], [data-testid="stAppDeployButton"], [data-testid="stDecoration"],
[data-testid="stStatusWidget"], [data-testid="stMainMenu"] {{ display: none !important; }}
[data-testid="stCaptionContainer"], .stCaption {{ color: #222 !important; }}
[data-testid="stMainBlockContainer"] {{ padding-top: 1.5rem; max-width: 100%; }}
.stApp h1 {{ font-size: 2.4rem; }}
button, [data-baseweb="select"] > div, input {{ border-width: 2px !important; }}
a {{ color: #003c9e !important; text-decoration: underline; }}
</style>
"""

# Runs in the page itself (st.html is not iframed). Installed once per browser tab. The
# style drops the focus ring the main area gets when a lecturer clicks it, then uses keys.
_SCRIPT = """
<style>[data-testid="stMain"]:focus-visible { outline: none; }</style>
<script>
(() => {
  if (window.cnnvizKeys) return;
  window.cnnvizKeys = true;
  const typing = (el) => el && el.nodeType === 1 && (el.isContentEditable ||
      /^(INPUT|TEXTAREA|SELECT)$/.test(el.tagName) || el.getAttribute('role') === 'slider');
  // The step-through: the first Plotly figure with animation frames and a slider.
  const animated = () => [...document.querySelectorAll('.js-plotly-plot')].find(gd =>
      gd._fullLayout && gd._fullLayout.sliders && gd._fullLayout.sliders.length &&
      gd._transitionData && gd._transitionData._frames && gd._transitionData._frames.length);
  const press = (node, type, x, y) => node.dispatchEvent(new MouseEvent(type,
      {bubbles: true, cancelable: true, view: window, clientX: x, clientY: y, button: 0}));
  const menuButton = (gd, text) => [...gd.querySelectorAll('.updatemenu-button')]
      .find(b => b.textContent.includes(text));
  const goTo = (gd, index) => {
    // Click the slider's rail at step `index`, exactly as a mouse would.
    const ticks = gd.querySelectorAll('.slider-tick-rect');
    const rail = gd.querySelector('.slider-rail-touch-rect');
    if (!rail || index < 0 || index >= ticks.length) return;
    const t = ticks[index].getBoundingClientRect(), r = rail.getBoundingClientRect();
    const x = t.left + t.width / 2, y = r.top + r.height / 2;
    press(rail, 'mousedown', x, y);
    press(rail, 'mouseup', x, y);
  };
  document.addEventListener('keydown', (ev) => {
    if (ev.altKey || ev.ctrlKey || ev.metaKey || typing(ev.target)) return;
    if (!['ArrowRight', 'ArrowLeft', ' '].includes(ev.key)) return;
    const gd = animated();
    if (!gd) return;
    ev.preventDefault();
    const slider = gd._fullLayout.sliders[0];
    const n = slider.steps.length;
    if (ev.key === ' ') {
      const playing = gd.dataset.cnnvizPlaying === '1';
      if (!playing && slider.active >= n - 1) goTo(gd, 0);  // replay from the start
      const button = menuButton(gd, playing ? 'Pause' : 'Play');
      if (button) press(button, 'click', 0, 0);
      gd.dataset.cnnvizPlaying = playing ? '0' : '1';
      return;
    }
    const pause = menuButton(gd, 'Pause');
    if (gd.dataset.cnnvizPlaying === '1' && pause) press(pause, 'click', 0, 0);
    gd.dataset.cnnvizPlaying = '0';
    goTo(gd, Math.min(Math.max(slider.active + (ev.key === 'ArrowRight' ? 1 : -1), 0), n - 1));
  }, true);
  // When an animation ends by itself, space starts it again.
  new MutationObserver(() => {
    const gd = animated();
    if (gd && !gd.cnnvizWatched && gd.on) {
      gd.cnnvizWatched = true;
      gd.on('plotly_animated', () => {
        const s = gd._fullLayout.sliders[0];
        if (s.active >= s.steps.length - 1) gd.dataset.cnnvizPlaying = '0';
      });
    }
  }).observe(document.body, {childList: true, subtree: true});
})();
</script>
"""

_COPY_LINK = """
<div class="cnnviz-copy-link">
<button type="button" id="cnnviz-copy-link" title="Copies this page's address, with every
setting in it, to the clipboard">🔗 Copy link to this view</button>
<span id="cnnviz-copied" role="status" aria-live="polite"></span>
<p>The link holds the page, the image sample and every setting.</p>
</div>
<style>
.cnnviz-copy-link button { font: inherit; padding: 0.35rem 0.75rem; border-radius: 0.5rem;
  border: 1px solid rgba(49, 51, 63, 0.3); background: #fff; cursor: pointer; }
.cnnviz-copy-link button:hover { border-color: #ff4b4b; color: #ff4b4b; }
.cnnviz-copy-link span { margin-left: 0.5rem; font-size: 0.85rem; }
.cnnviz-copy-link p { margin: 0.4rem 0 0; font-size: 0.875rem; color: rgba(49, 51, 63, 0.6); }
/* A reader who asks the system for less motion gets none: no sliding or fading anywhere
   (the step-through's frames already change in steps, with no tweening). */
@media (prefers-reduced-motion: reduce) {
  *, *::before, *::after { animation-duration: 0.01ms !important;
    animation-iteration-count: 1 !important; transition-duration: 0.01ms !important;
    scroll-behavior: auto !important; }
}
</style>
<script>
(() => {
  const button = document.getElementById('cnnviz-copy-link');
  if (!button || button.dataset.ready) return;
  button.dataset.ready = '1';
  const said = document.getElementById('cnnviz-copied');
  button.addEventListener('click', async () => {
    const url = window.location.href;
    try {
      await navigator.clipboard.writeText(url);
    } catch (error) {  // plain http on a LAN address has no clipboard API
      const area = document.createElement('textarea');
      area.value = url;
      document.body.appendChild(area);
      area.select();
      document.execCommand('copy');
      area.remove();
    }
    said.textContent = 'Link copied ✓';
    button.dataset.copied = url;
    setTimeout(() => { said.textContent = ''; }, 4000);
  });
})();
</script>
"""


def _seed_from_url() -> None:
    if PRESENT in st.session_state:
        return
    raw = st.query_params.get(PRESENT)
    st.session_state[PRESENT] = raw == "1"
    if raw is not None and raw not in ("0", "1"):
        del st.query_params[PRESENT]
        st.session_state[state.URL_NOTICE] = (
            "The link had a value for `present` that is not 0 or 1, so presenter mode is off."
        )


def presenting() -> bool:
    """Whether presenter mode is on in this session."""
    _seed_from_url()
    return bool(st.session_state[PRESENT])


def page_config() -> None:
    """Before anything is drawn: collapse the sidebar when a link opens in presenter mode."""
    st.set_page_config(
        page_title="cnnviz: CNNs explained", page_icon=":material/grid_on:", layout="wide",
        initial_sidebar_state="collapsed" if presenting() else "auto",
    )


def _publish() -> None:
    if st.session_state[PRESENT]:
        st.query_params[PRESENT] = "1"
    else:
        st.query_params.pop(PRESENT, None)


def controls() -> None:
    """The presenter switch, the copy-link button and the keyboard script (in the sidebar).

    The button reads the browser's address when clicked, so it copies the page's final URL.
    """
    _seed_from_url()
    with st.sidebar:
        st.toggle("Presenter mode", key=PRESENT, on_change=_publish,
                  help="Large text and figures for a projector, high contrast, no clutter. "
                  "Keys → ← step the animation and space plays it. Links carry ?present=1.")
        # One element for the button, its note and the keyboard script: every element costs
        # each rerun of every page a little.
        st.html(_COPY_LINK + _SCRIPT, unsafe_allow_javascript=True)
    if st.session_state[PRESENT]:
        st.html(_PRESENT_CSS)
        if st.query_params.get(PRESENT) != "1":
            st.query_params[PRESENT] = "1"  # a page switch clears the query string

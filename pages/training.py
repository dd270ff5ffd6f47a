"""Training: train a network in this browser session and watch its first layer learn.

URL keys: ``model``, ``epochs``, ``lr``, ``batch``, ``augment``; and ``images``, which no
control shows: train on the first N training images only, for a quick demo or a test
(``/training?epochs=1&images=512``).

The run itself happens on a background thread (``ui.training_job``); a fragment polls it,
so the Stop button is heard while the network trains.
"""

import streamlit as st

from cnnviz import MODELS, ModelError, TrainConfig, filter_grid, training_curves
from ui import catalog, defaults, state, widgets
from ui.boot import ensure_app_navigation
from ui.cache import networks
from ui.sidebar import escape_markdown
from ui.training_job import MAX_EPOCHS, TRAINERS, ServerBusy, TrainingJob, config_for
from ui.urlstate import Link, choice_param, flag_param, format_float, int_param

ensure_app_navigation()

PAGE = catalog.TRAINING
P = PAGE.prefix
DEFAULTS = TrainConfig()
DEFAULT_EPOCHS = 10  # about 10-15 s for the digits network on one core
POLL_SECONDS = 0.5  # how often the live view asks the training thread for news
MODEL = choice_param("model", P + "model", defaults.TRAINING_MODEL, tuple(TRAINERS))
EPOCHS = int_param("epochs", P + "epochs", DEFAULT_EPOCHS, 1, MAX_EPOCHS)
LR = choice_param("lr", P + "lr", DEFAULTS.lr, (3e-4, 1e-3, 3e-3, 1e-2, 3e-2), format_float)
BATCH = choice_param("batch", P + "batch", DEFAULTS.batch_size, (16, 32, 64, 128, 256))
AUGMENT = flag_param("augment", P + "augment", DEFAULTS.augment)
IMAGES = int_param("images", P + "images", None, 16, 100_000)  # no widget: links only


def _model_label(name: str) -> str:
    spec = MODELS[name]
    c, h, w = spec.input_size
    return f"{name}: {len(spec.class_names)} classes, {'grey' if c == 1 else 'colour'} {h}×{w}"


def _start() -> None:
    """The Train button: start a run on a background thread (nothing is drawn here)."""
    st.session_state[state.TRAINING_START_ERROR] = None
    previous = st.session_state.get(state.TRAINING_JOB)
    if previous is not None and previous.running:
        return  # one run per session
    images = IMAGES.current()
    config = config_for(*(p.current() for p in (MODEL, EPOCHS, LR, BATCH, AUGMENT)), images)
    try:
        st.session_state[state.TRAINING_JOB] = TrainingJob.start(config, train_images=images)
    except ServerBusy as err:
        st.session_state[state.TRAINING_START_ERROR] = str(err)
    except (ValueError, ModelError) as err:
        st.session_state[state.TRAINING_START_ERROR] = f"This training cannot start. {err}"


def _adopt_finished(job: TrainingJob | None) -> None:
    """Move a finished run's model into this session's trained models (once)."""
    if job is None or job.running or job.adopted or job.model is None or not job.history:
        return
    state.trained_models()[job.config.model] = (job.model, job.card)
    job.adopted = True


job = st.session_state.get(state.TRAINING_JOB)
_adopt_finished(job)
running = job is not None and job.running

st.title("Training")
st.markdown(
    "On the other pages you chose every kernel yourself. A network **learns** its kernels: it "
    "starts from random numbers, looks at a small batch of labelled images, measures how "
    "wrong its answers are (the *loss*) and nudges every weight a little in the direction "
    "that makes the loss smaller. Batch after batch, the first layer's filters turn from "
    "noise into edge and stroke detectors. Press **Train** and watch it happen."
)
link = Link()
link.seed([MODEL, EPOCHS, LR, BATCH, AUGMENT, IMAGES])

# --- controls ---------------------------------------------------------------------------
c1, c2, c3 = st.columns([1.2, 1.2, 1], gap="large")
with c1:
    model_name = widgets.select(MODEL, "Network", disabled=running, format_func=_model_label)
    widgets.slider(EPOCHS, "Epochs", disabled=running,
                   help="One epoch is one pass over every training image.")
with c2:
    widgets.select_slider(LR, "Learning rate", disabled=running, format_func=format_float,
                          help="How big a step each batch takes downhill on the loss. Too small "
                          "and learning crawls; too big and the loss jumps around or blows up. "
                          "(It is the peak of a one-cycle schedule: small, rising, then falling "
                          "again.)")
    widgets.select_slider(BATCH, "Batch size", disabled=running,
                          help="Images per step. Small batches: more steps per epoch, each one "
                          "noisier.")
with c3:
    widgets.toggle(AUGMENT, "Augmentation", disabled=running,
                   help="Every training image is randomly rotated (up to 12°), scaled (±10%) "
                   "and shifted (up to 2 pixels) each time it is seen, so the network cannot "
                   "learn exact pixels by heart.")
    images = IMAGES.current()
    if images is not None:
        st.caption(f"Training on {images} of the training images only (the link's "
                   "`images` key), for a quick demo.")
    st.button("Train", key=P + "start", type="primary", icon=":material/play_arrow:",
              on_click=_start, disabled=running,
              help="Starts a fresh network from random weights. Only your browser session "
              "sees it.")

start_error = st.session_state.get(state.TRAINING_START_ERROR)
if start_error:
    st.error(start_error, icon=":material/block:")

if model_name == "digits":
    data_text = ("The digits network learns from 4,000 real MNIST digits and is tested on "
                 "1,000 others (100 of each digit) that it never trains on.")
else:
    data_text = "The network is tested on images it never trains on."
e1, e2, e3 = st.columns(3, gap="large")
e1.markdown("**Epoch.** One pass over every training image, in batches. After each epoch the "
            "page redraws the curves and the filters. " + data_text)
e2.markdown("**The curves.** The *loss* is how wrong the network is on average (lower is "
            "better); *accuracy* is the share of images it labels right, on the training "
            "images and on the held-out ones.")
e3.markdown("**Why held-out accuracy matters.** A network can memorise its training images. "
            "Only images it has never seen tell you whether it learned digits or learned "
            "those pictures: when training accuracy keeps rising but held-out accuracy "
            "does not, it is overfitting.")


# --- the run, live ------------------------------------------------------------------------

@st.fragment(run_every=POLL_SECONDS if running else None)
def live_view(polling: bool) -> None:
    """Progress, curves and filters of the session's latest run; while it runs, this redraws
    itself every POLL_SECONDS and, when the run ends, reruns the whole page."""
    job: TrainingJob | None = st.session_state.get(state.TRAINING_JOB)
    if job is None:
        st.subheader("The first layer, before any training")
        weights = networks.initial_filters(model_name, DEFAULTS.seed)
        st.plotly_chart(filter_grid(weights), key=P + "filters_start",
                        alt=f"The {weights.shape[0]} random first-layer filters of "
                        f"{model_name}, before training")
        colours = ("shown as colour pictures" if weights.shape[1] == 3 else
                   "red positive, blue negative")
        st.caption(f"The {weights.shape[0]} filters of the first conv layer, "
                   f"{weights.shape[2]}×{weights.shape[3]} each, as the network starts: random "
                   f"numbers ({colours}). Press **Train** to see them change.")
        return
    status, history, batches = job.snapshot()
    if polling and status != "running":
        st.rerun()  # the whole page: results, the trained model's answers, controls enabled
    epochs = job.config.epochs
    if status == "running":
        bar, stop = st.columns([6, 1], vertical_alignment="bottom")
        epoch_now = min(len(history) + 1, epochs)
        bar.progress(len(history) / epochs,
                     text=f"Epoch {epoch_now} of {epochs} · {batches} batches · "
                     f"{job.elapsed():.0f} s")
        stop.button("Stop", key=P + "stop", icon=":material/stop:", on_click=job.request_stop,
                    disabled=job.stop_requested, width="stretch",
                    help="Ends the run before its next batch and keeps the network as it is.")
    else:
        st.progress(len(history) / epochs,
                    text=job.status_line())

    st.subheader("Loss and accuracy, epoch by epoch")
    st.plotly_chart(training_curves(history, epochs=epochs), key=P + "curves",
                    alt=f"Loss and accuracy over {len(history)} of {epochs} epochs"
                    + (f"; now loss {history[-1].loss:.3f}, held-out accuracy "
                       f"{history[-1].heldout_accuracy:.1%}" if history else ""))
    if history:
        last = history[-1]
        st.caption(f"After epoch {last.epoch}: loss {last.loss:.3f}, training accuracy "
                   f"{last.train_accuracy:.1%}, held-out accuracy {last.heldout_accuracy:.1%}. "
                   "Training accuracy is counted during the epoch, while the network is still "
                   "learning and with its training-time randomness (augmentation, and dropout "
                   "where the network has it) switched on, so early on it can sit below the "
                   "held-out accuracy, which is measured after the epoch.")
    else:
        st.caption("The first points appear when the first epoch ends.")

    st.subheader("The first layer's filters")
    before, after = st.columns(2, gap="large")
    with before:
        st.plotly_chart(filter_grid(job.initial_filters, title="Before training (random)"),
                        key=P + "filters_before", alt="The first layer's filters before "
                        "training: random numbers")
    with after:
        if history:
            title = f"After epoch {history[-1].epoch}"
            st.plotly_chart(filter_grid(history[-1].first_layer, title=title),
                            key=P + "filters_after",
                            alt=f"The first layer's filters {title.lower()}")
        else:
            st.info("Waiting for the first epoch…", icon=":material/hourglass_top:")
    if job.initial_filters.shape[1] == 3:
        st.caption("Each small square is one filter: its red, green and blue slices shown as "
                   "one colour picture, stretched to full brightness on its own. A filter that "
                   "is light on one side and dark on the other responds to an edge; one that "
                   "is red on one side and green on the other, to a red-green colour edge.")
    else:
        st.caption("Each small square is one filter (red: positive weights, blue: negative; "
                   "each on its own scale). A filter with red on one side and blue on the "
                   "other responds to an edge, like the Sobel kernels on the Convolution page.")


live_view(running)

# --- results ---------------------------------------------------------------------------------
if job is not None and not job.running:
    if job.status == "failed":
        st.error(f"The training failed. {job.error}", icon=":material/error:")
    elif job.model is None or not job.history:
        st.info("The run ended before its first epoch finished, so there is no network to "
                "keep. Press **Train** to start again.", icon=":material/info:")
    else:
        st.subheader("Your network")
        m1, m2, m3 = st.columns(3)
        m1.metric("Held-out accuracy", f"{job.heldout_accuracy:.1%}",
                  help="On images the network never trained on.")
        m2.metric("Epochs", f"{len(job.history)} of {job.config.epochs}")
        m3.metric("Training time", f"{job.seconds:.0f} s")
        st.caption("This network belongs to your browser session only: nobody else sees it, "
                   "nothing is saved to disk, and it is gone when the session ends. The What "
                   "a channel detects page can explore it next to the bundled one.")

# --- what the networks say about the current image -----------------------------------------
image = state.current_image()
st.subheader("What the network says about your image")
st.caption(f"The image in the sidebar ({escape_markdown(image.label)}). The digits network "
           "only knows the digits 0-9: try an MNIST sample or draw a digit.")
trained = state.trained_models().get(model_name)
if trained is not None:
    mine, bundled = st.columns(2, gap="large")
    with mine:
        st.markdown("**Your trained network**")
        widgets.show_top(trained[0], image)
else:
    bundled = st.container()
with bundled:
    st.markdown(f"**The bundled {model_name} network** (trained before the app shipped)")
    widgets.show_top(model_name, image)

link.publish()

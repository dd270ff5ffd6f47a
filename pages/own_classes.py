"""Your own classes: transfer learning on a few images, then explained on every page.

No URL keys: what a student adds stays in the session (``ui.own``), never in a link.
"""

import streamlit as st

from cnnviz import (
    AUGMENTATIONS,
    TRANSFER_EPOCHS,
    UPLOAD_EXTENSIONS,
    confusion_figure,
    confusion_text,
    save_head,
)
from ui import catalog, own, own_view, state, views, widgets
from ui.boot import ensure_app_navigation
from ui.sidebar import UPLOAD_LIMIT_MB, escape_markdown

ensure_app_navigation()

PAGE = catalog.OWN_CLASSES
P = PAGE.prefix
EXPLAIN = ((catalog.GRADCAM, "Grad-CAM of each of your classes"),
           (catalog.FEATURE_MAPS, "Its feature maps"), (catalog.ARCHITECTURE, "Its layer table"))

found = own.classes()
gen = found.generation


def _uploaded(c: int) -> None:
    found.problems = own.add_files(c, st.session_state.get(f"{P}upload.{gen}.{c}") or [])
    found.changed()  # fresh uploaders: the files they held are read


def _snapshot() -> None:
    shot = st.session_state.get(f"{P}camera.{gen}")
    if shot is not None:
        found.problems = own.add_shot(st.session_state.get(f"{P}camera_class.{gen}", 0),
                                      shot.getvalue())
        found.changed()


def _sidebar_image(c: int) -> None:
    image = state.current_image()
    found.problems = [p for p in [own.add_image(c, image.pixels, image.label)] if p]


def _ready_made() -> None:
    own.ready_made(st.session_state[P + "set"], st.session_state[P + "per_class"],
                   st.session_state.get(P + "digits", (3, 8)))


st.title("Your own classes")
st.markdown(
    "A network trained on a million photographs already knows edges, textures and parts. "
    "**Transfer learning** keeps all of that frozen and trains only a new last layer for "
    "*your* classes: one weight per feature and class. Make two to six classes, add a few "
    "images to each, press **Train**, and see how well it does on images it did not train "
    "on, next to a small CNN that has to learn everything from those same images."
)

with st.expander("Start from a ready-made set", icon=":material/dataset:"):
    a, b, c_ = st.columns([1, 1, 1.4], vertical_alignment="bottom")
    kind = a.segmented_control("Set", ("shapes", "digits"), key=P + "set", default="shapes",
                               required=True, format_func=lambda k: {
                                   "shapes": "Shapes (4 classes)", "digits": "MNIST digits"}[k])
    b.number_input("Images per class", 1, own.MAX_IMAGES, 10, key=P + "per_class")
    if kind == "digits":
        c_.multiselect("Digits", list(range(10)), default=[3, 8], key=P + "digits",
                       max_selections=own.MAX_CLASSES)
    st.button("Use this set (replaces your classes)", key=P + "use_set", on_click=_ready_made,
              disabled=kind == "digits" and len(st.session_state.get(P + "digits", [])) < 2)

# --- the classes ---------------------------------------------------------------------------
st.subheader(f"Your classes · {found.count} image{'' if found.count == 1 else 's'}")
for problem in found.problems:
    st.warning(problem, icon=":material/block:")
for c, name in enumerate(found.names):
    with st.container(border=True):
        top, count, drop = st.columns([3, 1, 1], vertical_alignment="bottom")
        top.text_input("Class name", name, key=f"{P}name.{gen}.{c}", max_chars=own.NAME_LENGTH,
                       on_change=lambda c=c: found.rename(c, st.session_state[
                           f"{P}name.{gen}.{c}"]))
        count.markdown(f"**{len(found.images[c])}** of {own.MAX_IMAGES} images")
        drop.button("Remove class", key=f"{P}drop.{gen}.{c}", icon=":material/delete:",
                    disabled=len(found.names) <= own.MIN_CLASSES,
                    on_click=found.remove_class, args=(name,))
        up, side = st.columns([3, 1], vertical_alignment="bottom")
        up.file_uploader(f"Add images to {name}", type=list(UPLOAD_EXTENSIONS),
                         accept_multiple_files=True, key=f"{P}upload.{gen}.{c}",
                         on_change=_uploaded, args=(c,), max_upload_size=UPLOAD_LIMIT_MB)
        side.button("Add the sidebar image", key=f"{P}side.{gen}.{c}", on_click=_sidebar_image,
                    args=(c,), help="The image in the sidebar: a sample, an upload, your "
                    "drawing (Draw) or a webcam shot (Camera).")
        thumbs = st.columns(8)
        for i, example in enumerate(found.images[c]):
            with thumbs[i % 8]:
                st.image(example.thumb, caption=escape_markdown(example.origin)[:24],
                         output_format=state.image_format(example.thumb),
                         alt=f"Image {i + 1} of class {name}: {example.origin}")
                st.button("✕", key=f"{P}rm.{gen}.{c}.{i}", help=f"Remove {example.origin}",
                          on_click=found.remove, args=(example.digest,))
st.button("Add a class", key=P + "add_class", icon=":material/add:",
          disabled=len(found.names) >= own.MAX_CLASSES,
          on_click=found.add_class)
with st.expander("Webcam: add a shot to a class", icon=":material/photo_camera:"):
    st.selectbox("Class", range(len(found.names)), format_func=lambda i: found.names[i],
                 key=f"{P}camera_class.{gen}")
    st.camera_input("Take a shot", key=f"{P}camera.{gen}", on_change=_snapshot)

# --- train ----------------------------------------------------------------------------------
st.subheader("Train")
t1, t2, t3 = st.columns([1, 1, 1], vertical_alignment="bottom")
augment = t1.toggle("Light augmentation", key=P + "augment",
                    help=f"Each training image also counts {len(AUGMENTATIONS)} more times: "
                    f"{' and '.join(AUGMENTATIONS)}.")
scratch = t2.toggle("Compare with a CNN from scratch", True, key=P + "scratch",
                    help="A small CNN (about 6,000 weights, random at first) trained on the "
                    "same images for the same epochs, beside the page: its numbers join the "
                    "new head's a few seconds later.")
problem = found.train_problem()
pressed = t3.button("Train", key=P + "train", type="primary", icon=":material/play_arrow:",
                    disabled=problem is not None)
if problem:
    st.caption(problem)
if pressed and problem is None:
    bar = st.progress(0.0, text="Starting…")
    try:
        own.train(augment, scratch, lambda f, what: bar.progress(min(f, 1.0), text=what))
    except ValueError as err:
        st.error(f"Training did not start. {err}", icon=":material/block:")
    bar.empty()

outcome = st.session_state.get(state.OWN_RUN)
entry = state.own_models().get(outcome.name) if outcome else None
if outcome is not None and entry is not None:
    run = outcome.run
    n = len(outcome.class_names)
    st.markdown(f"Trained on {sum(outcome.counts)} images in {outcome.seconds:.1f} s: the "
                f"new last layer ({n} × {own.head_inputs():,} weights + {n} biases), "
                f"{TRANSFER_EPOCHS} full-batch epochs"
                + (", with augmentation." if outcome.augment else "."))
    if run.transfer is None:
        st.info("No image could be held out to judge the network: a class needs two images "
                "for one of them to be held out.", icon=":material/info:")
    else:
        held = len(run.held_out)
        st.caption(own.held_out_text(outcome) + " The head you keep was then trained again on "
                   "every image. With so few held-out images, one more right or wrong moves a "
                   f"score by {100 / held:.0f} points: add images for steadier numbers.")
        left, right = st.columns(2, gap="large")
        with left:
            hits = int((run.transfer.truth == run.transfer.predicted).sum())
            st.metric("Transfer learning", f"{run.transfer.accuracy:.0%}",
                      help=f"{hits} of {held} held-out images right, which the head did not "
                      "train on.")
            st.plotly_chart(confusion_figure(run.transfer.confusion, outcome.class_names),
                            key=P + "cm_transfer", alt="Confusion matrix of the new head on the "
                            "held-out images: "
                            + confusion_text(run.transfer.confusion, outcome.class_names))
        with right:
            own_view.scratch_view(outcome)
        st.caption("Rows: the true class; columns: what the network said. Right answers sit on "
                   "the diagonal. With ten images a class the CNN from scratch has too little "
                   "to learn edges, textures and shapes from; the pretrained features already "
                   "hold them, so only the last layer has to be learnt.")

    st.subheader("Try it")
    image = state.current_image()
    st.caption(f"Your network on the sidebar image ({escape_markdown(image.label)}): change it "
               "in the sidebar, or take a shot with Camera there.")
    widgets.show_top(outcome.name, image, len(outcome.class_names))
    st.markdown("**Explore it.** Your network is on the model list of every network page, "
                f"as “{escape_markdown(entry.label)}”:")
    for column, (info, label) in zip(st.columns(len(EXPLAIN)), EXPLAIN, strict=True):
        view = views.View(info.path, label, (("model", outcome.name),))
        with column:
            if st.button(label, key=P + "go." + info.url_path, icon=info.icon,
                         on_click=views.prepare, args=(view,)):
                views.open_view(view)
    st.download_button("Download the head", save_head(entry.model), "my_classes_head.pt",
                       key=P + "download", icon=":material/download:",
                       help="The new last layer and your class names (a few kB): upload it "
                       "again below, in a later session.")

# --- bring a network ---------------------------------------------------------------------------
own_view.bring_network()

"""A browser-less Streamlit client: one tab, driven over Streamlit's own websocket protocol.

It does what the browser does: it loads the page (``GET /convolution``), asks
``/_stcore/health`` (which sets the ``_streamlit_xsrf`` cookie) and ``/_stcore/host-config``,
opens the websocket ``/_stcore/stream`` with the subprotocols ``streamlit, <xsrf token>`` and
sends ``BackMsg.rerun_script`` with a ``ClientState``: the query string, the page name (then
the script hash of the page that ran, from the ``navigation`` message), the widget states it
has set, and the hashes of the big messages it has cached (the server then sends those as
references). It reads every ``ForwardMsg``: widget ids and options from the ``new_element``
deltas, the new query string from ``page_info_changed``, and ``script_finished``, which
ends a rerun. Uploads go as the browser sends them: ``file_urls_request`` over the
websocket, then ``PUT`` to the URL the server gave, then a rerun with the uploader's state.

Errors a browser would show (an exception on the page, a dropped websocket, a rerun that
never finishes, a failed request) raise or are collected as :class:`SessionError`.
Used by ``bench/load.py`` and the tests; the messages are the ``streamlit.proto`` classes
that Streamlit 1.67 ships.
"""

from __future__ import annotations

import asyncio
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable
from dataclasses import dataclass

from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.Common_pb2 import UploadedFileInfo
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
from streamlit.proto.WidgetStates_pb2 import WidgetState
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

FINISHED = (ForwardMsg.FINISHED_SUCCESSFULLY, ForwardMsg.FINISHED_FRAGMENT_RUN_SUCCESSFULLY)
ERROR_ALERT = 1  # Alert.Format.ERROR


class SessionError(Exception):
    """Something a browser would show as broken: counted under ``kind``."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(f"{kind}: {message}")
        self.kind = kind


# --- widgets -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Widget:
    """A widget as the server last drew it."""

    id: str
    kind: str  # the Element oneof: "number_input", "selectbox", "slider", "multiselect", ...
    label: str
    options: tuple[str, ...]  # formatted options (what the browser shows and sends back)


# What the browser sends when a widget changes, for Session.change. Options are the
# formatted strings the server drew (Widget.options), as the browser sends them back.


def number(value: float) -> Callable[[Widget], WidgetState]:
    """st.number_input."""
    return lambda w: WidgetState(id=w.id, double_value=value)


def option(value: str) -> Callable[[Widget], WidgetState]:
    """st.selectbox, st.radio: one formatted option."""
    return lambda w: WidgetState(id=w.id, string_value=value)


def options(values: list[str]) -> Callable[[Widget], WidgetState]:
    """st.multiselect, st.select_slider, st.segmented_control: formatted options."""

    def state(w: Widget) -> WidgetState:
        s = WidgetState(id=w.id)
        s.string_array_value.data.extend(values)
        return s

    return state


# --- one tab -------------------------------------------------------------------------------


class Session:
    """One browser tab on one page of the app, driven over the websocket."""

    def __init__(self, base_url: str, page: str, query: str = "", timeout: float = 60,
                 title: str = "") -> None:
        self.base = base_url.rstrip("/")
        self.page = page
        self.title = title
        self.query = query  # kept up to date from page_info_changed, as the browser does
        self.timeout = timeout
        self.cookies: dict[str, str] = {}
        self.ws: ClientConnection | None = None
        self.session_id = ""
        self.page_hash = ""  # the script hash of the page that ran, from navigation
        self.widgets: dict[str, Widget] = {}  # user key (or label) -> last drawn widget
        self.states: dict[str, WidgetState] = {}  # widget id -> the value this tab set
        self.cache: dict[str, tuple[int, tuple[str, Widget | None]]] = {}  # hash -> (run, what)
        self.max_cache_age = 2
        self.runs = 0  # finished reruns
        self.alerts: list[str] = []  # st.error bodies seen
        self.errors: list[SessionError] = []
        self.elements = 0
        self.text: list[str] = []  # markdown, captions and image captions of the last rerun
        self.headings: list[str] = []  # st.title / st.header / st.subheader of the last rerun
        self.auto_reruns: dict[str, float] = {}  # fragment id -> seconds (st.fragment run_every)
        self._finished: asyncio.Future | None = None
        self._file_urls: dict[str, asyncio.Future] = {}
        self._reader: asyncio.Task | None = None

    # HTTP, the way the page itself fetches: same origin, cookies, no proxies.
    def _http(self, method: str, path: str, body: bytes | None = None,
              headers: dict[str, str] | None = None) -> tuple[int, bytes]:
        request = urllib.request.Request(self.base + path, data=body, method=method)
        for name, value in (headers or {}).items():
            request.add_header(name, value)
        if self.cookies:
            request.add_header("Cookie", "; ".join(f"{k}={v}" for k, v in self.cookies.items()))
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        try:
            with opener.open(request, timeout=self.timeout) as resp:
                status, data, got = resp.status, resp.read(), resp.headers
        except urllib.error.HTTPError as err:
            status, data, got = err.code, err.read(), err.headers
        for line in got.get_all("Set-Cookie") or []:
            name, _, value = line.split(";", 1)[0].partition("=")
            self.cookies[name.strip()] = value.strip()
        return status, data

    async def http(self, method: str, path: str, body: bytes | None = None,
                   headers: dict[str, str] | None = None, ok: tuple[int, ...] = (200,)
                   ) -> bytes:
        try:
            status, data = await asyncio.to_thread(self._http, method, path, body, headers)
        except OSError as err:
            raise SessionError("http", f"{method} {path}: {err}") from err
        if status not in ok:
            raise SessionError("http", f"{method} {path}: HTTP {status} {data[:200]!r}")
        return data

    async def open(self) -> float:
        """Load the page, open the websocket, run the script once. Returns seconds taken."""
        start = time.perf_counter()
        await self.http("GET", f"/{self.page}" + (f"?{self.query}" if self.query else ""))
        await self.http("GET", "/_stcore/health")
        await self.http("GET", "/_stcore/host-config")
        token = self.cookies.get("_streamlit_xsrf", "PLACEHOLDER_AUTH_TOKEN")
        headers = {"Origin": self.base}
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        ws_url = "ws" + self.base.removeprefix("http") + "/_stcore/stream"
        try:
            self.ws = await connect(ws_url, subprotocols=["streamlit", token],
                                    additional_headers=headers, max_size=None,
                                    compression=None, proxy=None, ping_interval=None,
                                    open_timeout=self.timeout)
        except Exception as err:  # OSError, TimeoutError, websockets' InvalidStatus, ...
            raise SessionError("websocket", f"connect: {err!r}") from err
        self._reader = asyncio.create_task(self._read())
        await self.rerun(first=True)
        return time.perf_counter() - start

    async def close(self) -> None:
        if self.ws is not None:
            await self.ws.close()
        if self._reader is not None:
            try:
                await asyncio.wait_for(self._reader, 10)
            except (TimeoutError, asyncio.CancelledError):
                self._reader.cancel()

    async def change(self, key: str, state: Callable[[Widget], WidgetState]) -> float:
        """Set widget ``key`` (as the browser would after a click) and rerun. Seconds."""
        widget = self.widgets.get(key)
        if widget is None:
            raise SessionError("widget", f"{key!r} is not on the page "
                            f"(seen: {', '.join(sorted(self.widgets)) or 'none'})")
        self.states[widget.id] = state(widget)
        return await self.rerun()

    async def click(self, key: str) -> float:
        """Press button ``key`` and rerun, as a click does: the trigger is sent once, then
        forgotten (a button is True for one rerun only). Seconds."""
        widget = self.widgets.get(key)
        if widget is None:
            raise SessionError("widget", f"button {key!r} is not on the page "
                            f"(seen: {', '.join(sorted(self.widgets)) or 'none'})")
        self.states[widget.id] = WidgetState(id=widget.id, trigger_value=True)
        try:
            return await self.rerun()
        finally:
            self.states.pop(widget.id, None)

    async def rerun(self, first: bool = False, fragment: str = "") -> float:
        """Send rerun_script and wait for script_finished. Returns seconds. ``fragment``: run
        that fragment only, as the browser does for an ``st.fragment(run_every=…)`` (ids in
        ``auto_reruns``); a fragment that calls ``st.rerun()`` runs the whole page after."""
        msg = BackMsg()
        client = msg.rerun_script
        client.query_string = self.query
        if first:
            client.page_name = self.page
        else:
            client.page_script_hash = self.page_hash
        if fragment:
            client.fragment_id = fragment
            client.is_auto_rerun = True
        else:
            self.auto_reruns.clear()  # the page's run registers its fragments again
        client.widget_states.widgets.extend(self.states.values())
        client.cached_message_hashes.extend(self.cache)
        client.context_info.timezone = "UTC"
        client.context_info.locale = "en-US"
        client.context_info.url = f"{self.base}/{self.page}"
        self.alerts.clear()
        self.text.clear()
        self.headings.clear()
        loop = asyncio.get_running_loop()
        self._finished = loop.create_future()
        start = time.perf_counter()
        await self._send(msg)
        try:
            await asyncio.wait_for(asyncio.shield(self._finished), self.timeout)
        except TimeoutError as err:
            raise SessionError("timeout", f"{self.page}: no script_finished after "
                            f"{self.timeout:.0f} s") from err
        took = time.perf_counter() - start
        if self.title and not fragment and self.title not in self.headings:
            raise SessionError("page", f"the rerun of /{self.page} did not draw its title "
                            f"{self.title!r} (headings: {self.headings})")
        return took

    async def _send(self, msg: BackMsg) -> None:
        try:
            await self.ws.send(msg.SerializeToString())
        except ConnectionClosed as err:
            raise SessionError("websocket", f"send: {err!r}") from err

    async def upload(self, name: str, data: bytes, mime: str, key: str = "upload") -> float:
        """Upload a file into the file uploader ``key``, as the browser does: ask the
        server for an upload URL over the websocket, PUT the file there over HTTP (it must
        reach the replica that holds this session), then rerun with the uploader's new
        state. Returns the seconds of the rerun."""
        widget = self.widgets.get(key)
        if widget is None:
            raise SessionError("widget", f"no file uploader {key!r} on the page")
        request_id = uuid.uuid4().hex
        msg = BackMsg()
        msg.file_urls_request.request_id = request_id
        msg.file_urls_request.session_id = self.session_id
        msg.file_urls_request.file_names.append(name)
        future = asyncio.get_running_loop().create_future()
        self._file_urls[request_id] = future
        await self._send(msg)
        urls = await asyncio.wait_for(future, self.timeout)
        boundary = uuid.uuid4().hex
        body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; "
                f"filename=\"{name}\"\r\nContent-Type: {mime}\r\n\r\n").encode() + data + \
            f"\r\n--{boundary}--\r\n".encode()
        await self.http("PUT", urls.upload_url, body, ok=(200, 204), headers={
            "Content-Type": f"multipart/form-data; boundary={boundary}",
            "X-Xsrftoken": self.cookies.get("_streamlit_xsrf", ""),
            "Origin": self.base})
        state = WidgetState(id=widget.id)
        state.file_uploader_state_value.uploaded_file_info.append(UploadedFileInfo(
            name=name, size=len(data), file_id=urls.file_id, file_urls=urls))
        self.states[widget.id] = state
        return await self.rerun()

    # --- reading ForwardMsgs -------------------------------------------------------------

    async def _read(self) -> None:
        try:
            async for raw in self.ws:
                msg = ForwardMsg()
                msg.ParseFromString(raw)
                self._handle(msg)
        except ConnectionClosed as err:
            if err.rcvd is None or err.rcvd.code != 1000:
                self._fail(SessionError("websocket", f"closed: {err!r}"))
            return
        except Exception as err:  # a message this client cannot read
            self._fail(SessionError("protocol", repr(err)))
            return
        if self._finished is not None and not self._finished.done():
            self._fail(SessionError("websocket", "closed by the server during a rerun"))

    def _fail(self, error: SessionError) -> None:
        self.errors.append(error)
        if self._finished is not None and not self._finished.done():
            self._finished.set_exception(error)
            self._finished.exception()  # mark retrieved: rerun() may have timed out already

    def _handle(self, msg: ForwardMsg) -> None:
        kind = msg.WhichOneof("type")
        if kind == "new_session":
            self.session_id = msg.new_session.initialize.session_id or self.session_id
            self.max_cache_age = msg.new_session.config.max_cached_message_age or 2
        elif kind == "delta":
            if msg.delta.WhichOneof("type") == "new_element":
                summary = self._element(msg.delta.new_element)
                if msg.metadata.cacheable and msg.hash:
                    self.cache[msg.hash] = (self.runs, summary)
        elif kind == "ref_hash":
            cached = self.cache.get(msg.ref_hash)
            if cached is None:
                self._fail(SessionError("protocol", f"reference to an unknown message "
                                     f"{msg.ref_hash}"))
            else:
                self.cache[msg.ref_hash] = (self.runs, cached[1])
                self._remember(*cached[1])
        elif kind == "navigation":  # the page that ran (st.navigation): rerun that one
            self.page_hash = msg.navigation.page_script_hash
        elif kind == "page_info_changed":
            self.query = msg.page_info_changed.query_string
        elif kind == "auto_rerun":
            self.auto_reruns[msg.auto_rerun.fragment_id] = msg.auto_rerun.interval
        elif kind == "script_finished":
            status = msg.script_finished
            if status == ForwardMsg.FINISHED_WITH_COMPILE_ERROR:
                self._fail(SessionError("exception", "the script failed to compile"))
            elif status in FINISHED:
                self.runs += 1
                self.cache = {h: v for h, v in self.cache.items()
                              if v[0] >= self.runs - self.max_cache_age}
                if self._finished is not None and not self._finished.done():
                    self._finished.set_result(None)
            # FINISHED_EARLY_FOR_RERUN: another run follows (st.rerun); keep waiting
        elif kind == "session_event":
            if msg.session_event.HasField("script_compilation_exception"):
                exc = msg.session_event.script_compilation_exception
                self._fail(SessionError("exception", f"{exc.type}: {exc.message}"))
        elif kind == "page_not_found":
            self._fail(SessionError("page", f"page not found: {msg.page_not_found.page_name!r}"))
        elif kind == "file_urls_response":
            response = msg.file_urls_response
            future = self._file_urls.pop(response.response_id, None)
            if future is not None and not future.done():
                if response.error_msg or not response.file_urls:
                    future.set_exception(SessionError("upload", response.error_msg or "no URL"))
                else:
                    future.set_result(response.file_urls[0])

    def _element(self, element) -> tuple[str, Widget | None]:
        """Note what one element means for this client: an error, a widget, some text."""
        kind = element.WhichOneof("type")
        widget = None
        if kind == "exception":
            self._fail(SessionError("exception", f"{element.exception.type}: "
                                 f"{element.exception.message}"))
        elif kind == "alert" and element.alert.format == ERROR_ALERT:
            self.alerts.append(element.alert.body)
        elif kind == "heading":
            self.headings.append(element.heading.body)
        elif kind in ("markdown", "text"):
            self.text.append(getattr(element, kind).body)
        elif kind == "imgs":
            self.text.extend(img.caption for img in element.imgs.imgs)
        elif kind == "metric":
            self.text.append(f"{element.metric.label}: {element.metric.body}")
        else:
            proto = getattr(element, kind, None)
            wid = getattr(proto, "id", "") if proto is not None else ""
            if wid and "$$ID" in wid:
                options = tuple(getattr(proto, "options", ()) or ())
                if kind == "button_group":
                    options = tuple(o.content for o in proto.options)
                widget = Widget(wid, kind, getattr(proto, "label", ""), options)
        self._remember(kind, widget)
        return kind, widget

    def _remember(self, kind: str, widget: Widget | None) -> None:
        self.elements += 1
        if widget is not None:
            # Widget ids end with "-<key>" when the app gave a key; else use the label.
            key = widget.id.rsplit("-", 1)[1] if widget.id.count("-") >= 2 else ""
            self.widgets[key if key and key != "None" else widget.label] = widget

// The playground: Slack's screens drawn from the Slack fake's control API (/fake/...), one person at a time: the
// channels, threads, direct messages, App Home and modals, refreshed as the bot changes them. text.js and
// blockkit.js (loaded first) draw what they show; nothing that came from the bot or a package becomes markup.
"use strict";

const state = {
  overview: null,
  me: null,
  place: null, // {kind: "channel", id} | {kind: "dm"} | {kind: "home"}
  thread: null, // {channel, ts}
  shown: {}, // what each part last drew, to redraw only what changed
  errors: {}, // view id -> {block_id: message}
  refreshing: false,
  again: false,
};

const $ = (id) => document.getElementById(id);

// --- the control API ---------------------------------------------------------------------------------------

async function api(method, path, body) {
  const init = method === "GET" ? {} : {method, headers: {"Content-Type": "application/json"}, body: JSON.stringify(body)};
  const response = await fetch(path, init);
  let answer;
  try {
    answer = await response.json();
  } catch (e) {
    answer = {ok: false, error: `the fake answered ${response.status}`};
  }
  return answer;
}

const get = (path, query) => api("GET", `${path}?${new URLSearchParams(query)}`);

async function deliver(path, body) {
  notice("");
  try {
    const answer = await api("POST", path, {user_id: state.me, quiet: 0.3, wait: 3, ...body});
    if (!answer.ok) notice(answer.error || "The fake refused.");
    else if (answer.acked === false) notice("The bot did not answer in time: Slack would show an error here.");
    else if ((answer.problems || []).length) notice(`Slack would refuse the bot's answer: ${answer.problems.join("; ")}`);
    return answer;
  } finally {
    refresh();
  }
}

function notice(text) {
  $("notice").textContent = text;
}

// --- messages ----------------------------------------------------------------------------------------------

function when(ts) {
  return new Date(Number(ts) * 1000).toLocaleTimeString([], {hour: "2-digit", minute: "2-digit"});
}

function drawMessage(message, channel, inThread) {
  const node = el("article", message.ephemeral ? "message ephemeral" : "message");
  node.dataset.ts = message.ts;
  const head = el("div");
  head.append(el("span", "who", message.bot_id || message.ephemeral ? "accounts-bot" : userName(message.user)), el("span", "when", when(message.ts)));
  if (message.ephemeral) head.append(el("span", "only-you", "  Only visible to you"));
  node.append(head);
  const where = {channel_id: channel, message_ts: message.ts};
  if (message.blocks && message.blocks.length) node.append(drawBlocks(message.blocks, where));
  else if (message.text) {
    const text = el("div", "blocks");
    text.innerHTML = mrkdwn(message.text);
    node.append(text);
  }
  for (const file of message.files || []) {
    const card = el("div", "file");
    card.append(el("span", "", `📄 ${file.title || file.name}`));
    const link = el("a", "btn", "Download");
    link.href = `/fake/file?${new URLSearchParams({id: file.id, user: state.me})}`;
    link.download = file.name || "file";
    card.append(link);
    node.append(card);
  }
  if (!inThread && message.reply_count) {
    const open = el("button", "replies", `${message.reply_count} ${message.reply_count === 1 ? "reply" : "replies"}`);
    open.type = "button";
    open.addEventListener("click", () => {
      state.thread = {channel, ts: message.ts};
      refresh();
    });
    node.append(open);
  }
  return node;
}

function byTs(a, b) {
  return Number(a.ts) - Number(b.ts);
}

// --- places ------------------------------------------------------------------------------------------------

function placeTitle() {
  if (state.place.kind === "home") return "accounts-bot · Home";
  if (state.place.kind === "dm") return "accounts-bot · Messages";
  return `#${channelName(state.place.id)}`;
}

function channelQuery() {
  return state.place.kind === "dm" ? state.me : state.place.id;
}

function changed(part, data) {
  const key = JSON.stringify(data);
  if (state.shown[part] === key) return false;
  state.shown[part] = key;
  return true;
}

async function refresh() {
  if (!state.overview) return;
  if (state.refreshing) {
    state.again = true; // one more once this one is drawn, so nothing a delivery changed is missed
    return;
  }
  state.refreshing = true;
  try {
    await redraw();
  } finally {
    state.refreshing = false;
  }
  if (state.again) {
    state.again = false;
    refresh();
  }
}

async function redraw() {
  const me = state.me;
  const place = state.place;
  const reads = [get("/fake/modals", {user: me})];
  if (place.kind === "home") reads.push(get("/fake/home", {user: me}));
  else reads.push(get("/fake/messages", {channel: channelQuery(), user: me}), get("/fake/ephemerals", {user: me}));
  if (state.thread) reads.push(get("/fake/thread", {channel: state.thread.channel, ts: state.thread.ts, user: me}));
  const [modals, surface, ephemerals, thread] = await Promise.all(reads);
  if (me !== state.me || place !== state.place) return;
  $("place-title").textContent = placeTitle();
  $("composer").hidden = place.kind === "home";
  if (place.kind === "home") drawHome(surface);
  else drawChannel(surface, ephemerals);
  drawThread(state.thread ? thread : null, ephemerals);
  drawModal(modals);
}

function drawHome(answer) {
  const view = answer && answer.ok ? answer.view : null;
  if (!changed("surface", view)) return;
  const surface = $("surface");
  if (!view) {
    surface.replaceChildren(el("p", "empty", "The bot has not published an App Home for you yet."));
    return;
  }
  const box = el("div", "home");
  box.append(drawBlocks(view.blocks, {view_id: view.id}));
  surface.replaceChildren(box);
}

function drawChannel(answer, ephemerals) {
  if (!answer || !answer.ok) return;
  const channel = answer.channel;
  const own = ((ephemerals && ephemerals.ephemerals) || [])
    .filter((e) => e.channel === channel && !e.thread_ts)
    .map((e) => ({...e, ephemeral: true}));
  const messages = [...answer.messages, ...own].sort(byTs);
  if (!changed("surface", messages)) return;
  const surface = $("surface");
  const atBottom = surface.scrollHeight - surface.scrollTop - surface.clientHeight < 40;
  if (!messages.length) surface.replaceChildren(el("p", "empty", "No messages yet. Type /accounts help below."));
  else surface.replaceChildren(...messages.map((m) => drawMessage(m, channel, false)));
  if (atBottom) surface.scrollTop = surface.scrollHeight;
}

function drawThread(answer, ephemerals) {
  const panel = $("thread");
  if (!answer || !answer.ok) {
    panel.hidden = true;
    changed("thread", null);
    return;
  }
  const own = ((ephemerals && ephemerals.ephemerals) || [])
    .filter((e) => e.channel === answer.channel && e.thread_ts === answer.ts)
    .map((e) => ({...e, ephemeral: true}));
  const replies = [...answer.replies, ...own].sort(byTs);
  panel.hidden = false;
  if (!changed("thread", replies)) return;
  $("thread-messages").replaceChildren(...replies.map((m) => drawMessage(m, answer.channel, true)));
}

function drawModal(answer) {
  const layer = $("modal-layer");
  const views = (answer && answer.ok && answer.views) || [];
  const view = views[views.length - 1];
  const key = view ? [view.id, view.hash] : null;
  if (!changed("modal", key)) return;
  if (!view) {
    layer.hidden = true;
    layer.replaceChildren();
    return;
  }
  const form = [];
  const box = el("form", "modal");
  box.setAttribute("role", "dialog");
  box.setAttribute("aria-label", (view.title && view.title.text) || "Modal");
  const head = el("header");
  head.append(textNode(view.title));
  const body = el("div", "modal-body");
  body.append(drawBlocks(view.blocks, {view_id: view.id}, form));
  const foot = el("footer");
  const close = el("button", "btn");
  close.type = "button";
  close.append(textNode(view.close || {type: "plain_text", text: "Cancel"}));
  close.addEventListener("click", () => deliver("/fake/close", {view_id: view.id}));
  foot.append(close);
  if (view.submit) {
    const submit = el("button", "btn primary");
    submit.type = "submit";
    submit.append(textNode(view.submit));
    foot.append(submit);
  }
  box.addEventListener("submit", async (event) => {
    event.preventDefault();
    const answer = await deliver("/fake/submit", {view_id: view.id, values: readForm(form)});
    const ack = answer && answer.ack;
    if (ack && ack.response_action === "errors") state.errors[view.id] = ack.errors;
    else delete state.errors[view.id];
    showErrors(view.id);
    refresh();
  });
  box.append(head, body, foot);
  layer.replaceChildren(box);
  layer.hidden = false;
  showErrors(view.id);
}

// The bot's errors next to the inputs they name, keeping what the person entered.
function showErrors(viewId) {
  const errors = state.errors[viewId] || {};
  for (const input of $("modal-layer").querySelectorAll(".input")) {
    for (const old of input.querySelectorAll(":scope > .error")) old.remove();
    if (errors[input.dataset.blockId]) input.append(el("div", "error", errors[input.dataset.blockId]));
  }
}

function go(place) {
  state.place = place;
  state.thread = null;
  state.shown = {};
  for (const button of document.querySelectorAll("#sidebar .place")) {
    const current = place.kind === "channel" ? button.dataset.channel === place.id : button.dataset.place === place.kind;
    button.classList.toggle("current", current);
  }
  if (place.kind === "home") deliver("/fake/event", {type: "app_home_opened", user: state.me, tab: "home"});
  refresh();
}

async function start() {
  const overview = await get("/fake", {});
  state.overview = overview;
  const workspace = overview.workspaces[0];
  $("workspace").textContent = workspace.name;
  for (const user of workspace.users) {
    const option = el("option", "", `${user.name}${user.is_admin ? " (admin)" : ""}`);
    option.value = user.id;
    $("person").append(option);
  }
  state.me = (overview.default && overview.default.user_id) || workspace.users[0].id;
  $("person").value = state.me;
  $("person").addEventListener("change", () => {
    state.me = $("person").value;
    go(state.place);
  });
  for (const channel of workspace.channels) {
    const li = el("li");
    const button = el("button", "place", `# ${channel.name}`);
    button.type = "button";
    button.dataset.place = "channel";
    button.dataset.channel = channel.id;
    button.addEventListener("click", () => go({kind: "channel", id: channel.id}));
    li.append(button);
    $("channels").append(li);
  }
  for (const button of document.querySelectorAll("#sidebar .place[data-place=home], #sidebar .place[data-place=dm]")) {
    button.addEventListener("click", () => go({kind: button.dataset.place}));
  }
  $("close-thread").addEventListener("click", () => {
    state.thread = null;
    refresh();
  });
  $("composer").addEventListener("submit", async (event) => {
    event.preventDefault();
    const text = $("command").value.trim();
    if (!text) return;
    if (!text.startsWith("/")) {
      notice("The bot listens to slash commands here: type /accounts help.");
      return;
    }
    $("command").value = "";
    await deliver("/fake/command", {text, channel_id: channelQuery()});
  });
  // Slack's app redirect ("Back to Slack" after a log-in) lands here with the channel to open.
  const asked = new URLSearchParams(location.search).get("channel");
  const first = workspace.channels.some((c) => c.id === asked)
    ? asked
    : (overview.default && overview.default.channel_id) || workspace.channels[0].id;
  go({kind: "channel", id: first});
  setInterval(refresh, 700);
  // The box opens once it is wired: a command typed while the page was still loading would otherwise be sent as
  // a plain form (the page reloads with ?command=… and the command is lost).
  $("command").disabled = false;
}

start();

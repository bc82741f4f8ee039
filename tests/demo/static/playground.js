// The playground: Slack's screens drawn from the Slack fake's control API (/fake/...), one person at a time.
// Everything that came from the bot or a package is put into the page as text, never as markup: mrkdwn is
// escaped first and only our own tags are added around it.
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

// --- text --------------------------------------------------------------------------------------------------

function escapeHtml(text) {
  return String(text).replace(/[&<>"']/g, (c) => ({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;"})[c]);
}

function unescapeSlack(text) {
  return text.replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/&amp;/g, "&");
}

function safeUrl(url) {
  return /^https?:\/\//i.test(url) ? url : null;
}

function userName(id) {
  for (const w of (state.overview && state.overview.workspaces) || []) {
    const user = w.users.find((u) => u.id === id);
    if (user) return user.name;
  }
  return id;
}

function channelName(id) {
  for (const w of (state.overview && state.overview.workspaces) || []) {
    const channel = w.channels.find((c) => c.id === id);
    if (channel) return channel.name;
  }
  return id;
}

// Slack's formatting on text already escaped for HTML: bold, italic, strike, code, code blocks, quotes.
const EMOJI = {
  white_check_mark: "✅", warning: "⚠️", x: "❌", electric_plug: "🔌", large_yellow_circle: "🟡",
  large_green_circle: "🟢", red_circle: "🔴", hourglass_flowing_sand: "⏳", no_entry_sign: "🚫", lock: "🔒",
  double_vertical_bar: "⏸️", busts_in_silhouette: "👥", arrows_counterclockwise: "🔄", tada: "🎉", page_facing_up: "📄",
};

function format(html) {
  const codes = [];
  html = html.replace(/```([\s\S]*?)```/g, (_, code) => `\u0001${codes.push(`<pre>${code}</pre>`) - 1}\u0001`);
  html = html.replace(/`([^`\n]+)`/g, (_, code) => {
    const bar = /^[█░]+$/.test(code) ? ' class="bar"' : "";
    return `\u0001${codes.push(`<code${bar}>${code}</code>`) - 1}\u0001`;
  });
  html = html.replace(/(^|[^\w*])\*(?!\s)([^*\n]+?)\*(?!\w)/g, "$1<b>$2</b>");
  html = html.replace(/(^|[^\w_])_(?!\s)([^_\n]+?)_(?!\w)/g, "$1<i>$2</i>");
  html = html.replace(/(^|[^\w~])~(?!\s)([^~\n]+?)~(?!\w)/g, "$1<s>$2</s>");
  html = html.replace(/:([a-z0-9_+-]+):/g, (shortcode, name) => EMOJI[name] || shortcode);
  html = html.replace(/^&gt; ?(.*)$/gm, "<blockquote>$1</blockquote>");
  html = html.replace(/\u0001(\d+)\u0001/g, (_, i) => codes[Number(i)]);
  return html.replace(/\n/g, "<br>");
}

// mrkdwn as HTML: links, mentions and dates from Slack's <...> syntax; everything else escaped, then formatted.
function mrkdwn(text) {
  const links = [];
  const marked = String(text || "").replace(/<([^<>|]+)(?:\|([^<>]*))?>/g, (_, target, label) => {
    const shown = label === undefined ? null : unescapeSlack(label);
    let html;
    if (target.startsWith("@")) html = `<span class="mention">@${escapeHtml(shown || userName(target.slice(1)))}</span>`;
    else if (target.startsWith("#")) html = `<span class="mention">#${escapeHtml(shown || channelName(target.slice(1)))}</span>`;
    else if (target.startsWith("!")) html = escapeHtml(shown || `@${target.slice(1).split("^")[0]}`);
    else {
      const url = safeUrl(unescapeSlack(target));
      const words = escapeHtml(shown || unescapeSlack(target));
      html = url ? `<a href="${escapeHtml(url)}" target="_blank" rel="noopener noreferrer">${words}</a>` : words;
    }
    return `\u0002${links.push(html) - 1}\u0002`;
  });
  const html = format(escapeHtml(unescapeSlack(marked)));
  return html.replace(/\u0002(\d+)\u0002/g, (_, i) => links[Number(i)]);
}

function textNode(text) {
  const span = document.createElement("span");
  if (!text) return span;
  if (text.type === "mrkdwn") span.innerHTML = mrkdwn(text.text);
  else span.textContent = text.text || "";
  return span;
}

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

// --- Block Kit ---------------------------------------------------------------------------------------------

// `where` says which surface the blocks are on: {view_id} or {channel_id, message_ts}; `form` is set in a modal.
function drawBlocks(blocks, where, form) {
  const box = el("div", "blocks");
  for (const block of blocks || []) {
    const node = drawBlock(block, where, form);
    if (node) box.append(node);
  }
  return box;
}

function drawBlock(block, where, form) {
  const kind = block.type;
  if (kind === "section") {
    const node = el("div", "block section");
    const body = el("div", "section-body");
    if (block.text) body.append(textNode(block.text));
    if (block.fields) {
      const fields = el("div", "fields");
      for (const f of block.fields) fields.append(textNode(f));
      body.append(fields);
    }
    node.append(body);
    if (block.accessory) node.append(drawElement(block.accessory, block, where, form));
    return node;
  }
  if (kind === "header") return el("div", "block header", (block.text && block.text.text) || "");
  if (kind === "divider") return el("hr", "divider");
  if (kind === "context") {
    const node = el("div", "block context");
    for (const e of block.elements || []) node.append(e.type === "image" ? el("span", "", "") : textNode(e));
    return node;
  }
  if (kind === "actions") {
    const node = el("div", "block actions");
    for (const e of block.elements || []) node.append(drawElement(e, block, where, form));
    return node;
  }
  if (kind === "input") return drawInput(block, where, form);
  if (kind === "rich_text") return drawRichText(block);
  if (kind === "markdown") {
    const node = el("div", "block");
    node.textContent = block.text || "";
    return node;
  }
  if (kind === "image") return el("div", "block context", `[image: ${block.alt_text || ""}]`);
  return el("div", "block context", `[${kind} block]`);
}

function drawRichText(node) {
  const box = el("div", "block rich-text");
  const walk = (item, into) => {
    if (item.type === "text") {
      let piece = el("span", "", item.text || "");
      const style = item.style || {};
      for (const [flag, tag] of [["bold", "b"], ["italic", "i"], ["strike", "s"], ["code", "code"]]) {
        if (style[flag]) {
          const wrap = el(tag);
          wrap.append(piece);
          piece = wrap;
        }
      }
      into.append(piece);
    } else if (item.type === "link") {
      const url = safeUrl(item.url || "");
      const link = el(url ? "a" : "span", "", item.text || item.url || "");
      if (url) Object.assign(link, {href: url, target: "_blank", rel: "noopener noreferrer"});
      into.append(link);
    } else if (item.type === "user") into.append(el("span", "mention", `@${userName(item.user_id)}`));
    else if (item.type === "channel") into.append(el("span", "mention", `#${channelName(item.channel_id)}`));
    else if (item.type === "emoji") into.append(el("span", "", `:${item.name}:`));
    else {
      const tag = {rich_text_preformatted: "pre", rich_text_quote: "blockquote", rich_text_list: "ul"}[item.type] || "div";
      const inner = el(tag);
      for (const child of item.elements || []) {
        if (item.type === "rich_text_list") {
          const li = el("li");
          walk(child, li);
          inner.append(li);
        } else walk(child, inner);
      }
      into.append(inner);
    }
  };
  for (const child of node.elements || []) walk(child, box);
  return box;
}

function optionText(option) {
  return (option && option.text && option.text.text) || "";
}

function fillSelect(select, element, placeholder) {
  const none = el("option", "", placeholder || (element.placeholder && element.placeholder.text) || "Choose…");
  none.value = "";
  select.append(none);
  const add = (into, option) => {
    const node = el("option", "", optionText(option));
    node.value = option.value;
    into.append(node);
  };
  for (const option of element.options || []) add(select, option);
  for (const group of element.option_groups || []) {
    const node = el("optgroup");
    node.label = optionText({text: group.label});
    for (const option of group.options || []) add(node, option);
    select.append(node);
  }
  const initial = element.initial_option;
  if (initial) select.value = initial.value;
}

// What a person, channel or conversation select shows chosen to begin with.
function chooseInitial(select, element) {
  const initial = element.initial_user || element.initial_conversation || element.initial_channel;
  if (initial && [...select.options].some((o) => o.value === initial)) select.value = initial;
}

function people() {
  const w = state.overview.workspaces[0];
  return w.users.map((u) => ({text: {type: "plain_text", text: u.name}, value: u.id}));
}

function channels() {
  const w = state.overview.workspaces[0];
  return w.channels.map((c) => ({text: {type: "plain_text", text: `#${c.name}`}, value: c.id}));
}

// An interactive element. Outside a modal's inputs, using it sends the action at once, as in Slack.
function drawElement(element, block, where, form) {
  const act = async (value) => {
    if (element.confirm && !(await askConfirm(element.confirm))) return;
    const body = {action_id: element.action_id, block_id: block.block_id, ...where};
    if (value !== undefined) body.value = value;
    return deliver("/fake/action", body);
  };
  const kind = element.type;
  if (kind === "button") {
    const url = element.url && safeUrl(element.url);
    const node = el(url ? "a" : "button", `btn ${element.style || ""}`.trim());
    node.append(textNode(element.text));
    if (url) {
      Object.assign(node, {href: url, target: "_blank", rel: "noopener"});
      node.addEventListener("click", () => act()); // Slack tells the app too, while the link opens
    } else {
      node.type = "button";
      node.addEventListener("click", () => act());
    }
    return node;
  }
  if (kind === "static_select" || kind === "overflow" || kind === "users_select" || kind === "conversations_select" || kind === "channels_select") {
    const select = el("select");
    select.setAttribute("aria-label", (element.placeholder && element.placeholder.text) || element.action_id);
    if (kind === "users_select") fillSelect(select, {options: people()}, "Choose a person");
    else if (kind !== "static_select" && kind !== "overflow") fillSelect(select, {options: channels()}, "Choose a channel");
    else fillSelect(select, element, kind === "overflow" ? "…" : undefined);
    chooseInitial(select, element);
    select.addEventListener("change", () => {
      if (!select.value) return;
      act(select.value);
    });
    return select;
  }
  if (kind === "external_select") return drawTypeahead(element, block, where, (option) => act(option));
  return el("span", "context", `[${kind}]`);
}

// An external select: what the person types goes to the bot (block_suggestion), its options drop down.
function drawTypeahead(element, block, where, chosen) {
  const box = el("div", "typeahead");
  const input = el("input");
  input.type = "text";
  input.setAttribute("role", "combobox");
  input.setAttribute("aria-label", (element.placeholder && element.placeholder.text) || element.action_id);
  input.placeholder = (element.placeholder && element.placeholder.text) || "Type to search";
  const list = el("ul");
  list.hidden = true;
  box.append(input, list);
  if (element.initial_option) {
    input.value = optionText(element.initial_option);
    box.dataset.choice = JSON.stringify(element.initial_option);
  }
  let asked = 0;
  const minimum = element.min_query_length === undefined ? 3 : element.min_query_length;
  input.addEventListener("input", async () => {
    delete box.dataset.choice;
    const typed = input.value;
    if (typed.length < minimum) {
      list.hidden = true;
      return;
    }
    const ticket = ++asked;
    const answer = await api("POST", "/fake/options", {action_id: element.action_id, block_id: block.block_id, value: typed, user_id: state.me, ...where});
    if (ticket !== asked) return;
    list.replaceChildren();
    if (!answer.ok) {
      list.append(el("li", "group", answer.error || "no options"));
    }
    const add = (option) => {
      const li = el("li");
      const pick = el("button", "", optionText(option));
      pick.type = "button";
      pick.setAttribute("role", "option");
      pick.addEventListener("click", () => {
        input.value = optionText(option);
        box.dataset.choice = JSON.stringify({text: option.text, value: option.value});
        list.hidden = true;
        if (chosen) chosen({text: option.text, value: option.value});
      });
      li.append(pick);
      list.append(li);
    };
    for (const option of answer.options || []) add(option);
    for (const group of answer.option_groups || []) {
      list.append(el("li", "group", optionText({text: group.label})));
      for (const option of group.options || []) add(option);
    }
    if (!list.children.length) list.append(el("li", "group", "No matches"));
    list.hidden = false;
  });
  return box;
}

// An input block in a modal: its element keeps what the person enters until they submit.
function drawInput(block, where, form) {
  const node = el("div", "block input");
  const element = block.element || {};
  const id = `field-${block.block_id}-${element.action_id}`;
  const label = el("label");
  label.htmlFor = id;
  label.append(textNode(block.label));
  if (block.optional) label.append(el("span", "optional", " (optional)"));
  node.append(label);
  let control;
  const kind = element.type;
  if (kind === "plain_text_input" || kind === "email_text_input" || kind === "url_text_input" || kind === "number_input") {
    control = el(element.multiline ? "textarea" : "input");
    if (!element.multiline) control.type = "text";
    if (element.initial_value) control.value = element.initial_value;
    if (element.placeholder) control.placeholder = element.placeholder.text;
    control.dataset.read = "text";
  } else if (kind === "static_select" || kind === "users_select" || kind === "conversations_select" || kind === "channels_select") {
    control = el("select");
    if (kind === "users_select") fillSelect(control, {options: people(), initial_option: null}, "Choose a person");
    else if (kind !== "static_select") fillSelect(control, {options: channels()}, "Choose a channel");
    else fillSelect(control, element);
    chooseInitial(control, element);
    control.dataset.read = kind === "static_select" ? "option" : "id";
  } else if (kind === "multi_static_select") {
    control = el("select");
    control.multiple = true;
    fillSelect(control, element);
    control.firstChild.remove();
    for (const option of element.initial_options || []) {
      const match = [...control.options].find((o) => o.value === option.value);
      if (match) match.selected = true;
    }
    control.dataset.read = "options";
  } else if (kind === "external_select") {
    control = drawTypeahead(element, block, where, null);
    control.dataset.read = "typeahead";
    control.querySelector("input").id = id;
    control.querySelector("input").removeAttribute("aria-label"); // named by the input's label
  } else if (kind === "radio_buttons" || kind === "checkboxes") {
    control = el("div");
    control.dataset.read = kind;
    for (const option of element.options || []) {
      const row = el("label");
      const box = el("input");
      box.type = kind === "radio_buttons" ? "radio" : "checkbox";
      box.name = id;
      box.value = option.value;
      const initial = kind === "radio_buttons" ? [element.initial_option] : element.initial_options || [];
      box.checked = initial.some((o) => o && o.value === option.value);
      row.append(box, textNode(option.text));
      control.append(row);
    }
  } else {
    control = el("span", "context", `[${kind}]`);
  }
  if (!control.id && kind !== "external_select") control.id = id;
  // Slack's client will not submit a modal with a required input left empty, and says so next to it.
  const required = kind === "external_select" ? control.querySelector("input") : control;
  if (!block.optional && (required.tagName === "INPUT" || required.tagName === "SELECT" || required.tagName === "TEXTAREA")) {
    required.required = true;
  }
  control.dataset.block = block.block_id;
  control.dataset.action = element.action_id;
  if (form) form.push({control, kind});
  node.append(control);
  if (block.hint) {
    const hint = el("div", "hint");
    hint.append(textNode(block.hint));
    node.append(hint);
  }
  node.dataset.blockId = block.block_id;
  return node;
}

function readForm(form) {
  const values = {};
  for (const {control} of form) {
    const read = control.dataset.read;
    let choice;
    if (read === "text") choice = control.value;
    else if (read === "option" || read === "id") choice = control.value || null;
    else if (read === "options") choice = [...control.selectedOptions].map((o) => o.value);
    else if (read === "typeahead") choice = control.dataset.choice ? JSON.parse(control.dataset.choice) : null;
    else if (read === "radio_buttons") choice = (control.querySelector("input:checked") || {}).value || null;
    else if (read === "checkboxes") choice = [...control.querySelectorAll("input:checked")].map((b) => b.value);
    else continue;
    if (choice === null || (Array.isArray(choice) && !choice.length)) continue; // left alone: Slack sends the initial one
    (values[control.dataset.block] = values[control.dataset.block] || {})[control.dataset.action] = choice;
  }
  return values;
}

function askConfirm(confirm) {
  return new Promise((resolve) => {
    const layer = $("confirm-layer");
    const box = el("div", "modal");
    box.setAttribute("role", "alertdialog");
    const head = el("header");
    head.append(textNode(confirm.title));
    const body = el("div", "modal-body");
    body.append(textNode(confirm.text));
    const foot = el("footer");
    const no = el("button", "btn");
    no.append(textNode(confirm.deny || {type: "plain_text", text: "Cancel"}));
    const yes = el("button", `btn ${confirm.style === "danger" ? "danger" : "primary"}`);
    yes.append(textNode(confirm.confirm || {type: "plain_text", text: "OK"}));
    const done = (answer) => {
      layer.hidden = true;
      layer.replaceChildren();
      resolve(answer);
    };
    no.addEventListener("click", () => done(false));
    yes.addEventListener("click", () => done(true));
    foot.append(no, yes);
    box.append(head, body, foot);
    layer.replaceChildren(box);
    layer.hidden = false;
  });
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
}

start();

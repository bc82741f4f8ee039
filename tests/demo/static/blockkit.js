// Block Kit drawn as Slack draws it: sections, fields, context, actions, inputs, rich text; buttons, selects and
// typeaheads that act through the control API; a modal's inputs read back for its submission.
"use strict";

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
    else if (item.type === "emoji") into.append(el("span", "", EMOJI[item.name] || `:${item.name}:`));
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

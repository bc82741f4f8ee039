// Text as Slack shows it: mrkdwn (links, mentions, formatting, emoji) made into HTML only after escaping, so
// nothing the bot or a package sent becomes markup; plain text set as text.
"use strict";

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

// The Playground's streaming: the form is posted to its data-stream endpoint and the reply, OpenAI's
// `chat.completion.chunk` events, is written into the transcript as it arrives (text deltas and tool
// calls). Listeners sit on the document, so a page swapped in by htmx works without running this again.
// Without this script the form posts as a plain form and the page comes back with the whole reply.

const FORM = "form#playground";

function turnElement(role, content) {
  const turn = document.getElementById("turn-template").content.firstElementChild.cloneNode(true);
  turn.classList.add(role);
  turn.querySelector(".speaker").textContent = role === "user" ? "You" : "Model";
  turn.querySelector(".text").textContent = content;
  document.getElementById("transcript").append(turn);
  document.getElementById("transcript-empty").hidden = true;
  return turn;
}

function showToolCalls(turn, calls) {
  const list = turn.querySelector(".tool-calls");
  list.replaceChildren(
    ...calls.map((call) => {
      const item = document.createElement("li");
      const name = document.createElement("code");
      name.className = "tool-name";
      name.textContent = call.name;
      const args = document.createElement("pre");
      args.append(document.createElement("code"));
      args.firstChild.textContent = call.arguments;
      item.append("Tool call ", name, " with arguments ", args);
      return item;
    }),
  );
  list.hidden = calls.length === 0;
}

function showError(form, message) {
  const alert = form.querySelector("#playground-error");
  alert.replaceChildren();
  if (message) {
    const text = document.createElement("p");
    text.className = "error";
    text.textContent = message;
    alert.append(text);
  }
}

// The events of an SSE body, one parsed `data:` payload at a time, until `[DONE]`.
async function* events(response) {
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let pending = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    pending += value;
    const blocks = pending.split("\n\n");
    pending = blocks.pop();
    for (const block of blocks) {
      const data = block
        .split("\n")
        .filter((line) => line.startsWith("data:"))
        .map((line) => line.slice(5).trim())
        .join("\n");
      if (data === "[DONE]") return;
      if (data) yield JSON.parse(data);
    }
  }
}

// Streams the reply into `turn`; answers the assistant's turn as the page keeps it.
async function streamReply(response, turn) {
  const text = turn.querySelector(".text");
  const calls = [];
  for await (const event of events(response)) {
    if (event.error) throw new Error(event.error.message);
    for (const choice of event.choices || []) {
      const delta = choice.delta || {};
      if (delta.content) text.textContent += delta.content;
      for (const part of delta.tool_calls || []) {
        const call = (calls[part.index] ??= { name: "", arguments: "" });
        call.name += part.function?.name || "";
        call.arguments += part.function?.arguments || "";
      }
      if (delta.tool_calls) showToolCalls(turn, calls.filter(Boolean));
    }
  }
  return { role: "assistant", content: text.textContent, tool_calls: calls.filter(Boolean) };
}

async function send(form) {
  const message = form.elements.message;
  if (!message.value.trim()) {
    showError(form, "Write a message to send.");
    message.focus();
    return;
  }
  const kept = form.elements.conversation;
  const transcript = document.getElementById("transcript");
  const button = form.querySelector("button[type=submit]");
  const body = new URLSearchParams(new FormData(form));
  showError(form, "");
  button.disabled = true;
  transcript.setAttribute("aria-busy", "true"); // announced once whole, not delta by delta
  const said = turnElement("user", message.value.trim());
  const turn = turnElement("assistant", "");
  try {
    const response = await fetch(form.dataset.stream, {
      method: "POST",
      body,
      headers: { "x-csrf-token": form.elements.csrf_token.value },
    });
    if (!response.ok) {
      const refusal = await response.json().catch(() => ({}));
      throw new Error(refusal.error?.message || `The gateway answered ${response.status}.`);
    }
    const answer = await streamReply(response, turn);
    const turns = JSON.parse(kept.value || "[]");
    turns.push({ role: "user", content: said.querySelector(".text").textContent, tool_calls: [] }, answer);
    kept.value = JSON.stringify(turns);
    message.value = "";
  } catch (error) {
    said.remove();
    turn.remove();
    document.getElementById("transcript-empty").hidden = transcript.children.length > 0;
    showError(form, error.message);
  } finally {
    transcript.setAttribute("aria-busy", "false");
    button.disabled = false;
    message.focus();
  }
}

document.addEventListener("submit", (event) => {
  const form = event.target.closest(FORM);
  if (!form || !window.ReadableStream) return;
  event.preventDefault();
  send(form);
});

document.addEventListener("keydown", (event) => {
  const form = event.target.closest?.(FORM);
  if (form && event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
    event.preventDefault();
    form.requestSubmit();
  }
});

// The one notes editor (notes and quick notes), bound to one call's log at a time and moved to
// where that call is shown: the call screen or the wrap-up panel.
import { el, icon, iconButton } from "./dom.js";
import { t } from "./i18n.js";
import { $, MAX_NOTES, notice, send, settings, state } from "./state.js";

const MAX_CALL_QUICK_NOTES = 20;
const SAVE_DELAY_MS = 800;

export function resetEditor() {
  const editor = state.editor;
  clearTimeout(editor.timer);
  Object.assign(editor, { callId: null, quick: [], dirty: false, timer: null, saving: false });
  $("notes").value = "";
  notesStatus("");
}

export function notesStatus(text) {
  $("notes-status").textContent = text;
}

export function flushNotes() {
  const editor = state.editor;
  clearTimeout(editor.timer);
  editor.timer = null;
  if (!editor.callId) return;
  const ok = send({
    type: "save_notes",
    call_id: editor.callId,
    notes: $("notes").value.slice(0, MAX_NOTES),
    quick_notes: editor.quick,
  });
  editor.dirty = !ok;
  editor.saving = ok;
  notesStatus(ok ? t("notesSaving") : t("notesNotSaved"));
  $("save-notes").disabled = ok;
}

export function notesTyped() {
  const editor = state.editor;
  editor.dirty = true;
  editor.saving = false;
  if (settings().auto_save_notes !== false) {
    clearTimeout(editor.timer);
    editor.timer = setTimeout(flushNotes, SAVE_DELAY_MS);
    notesStatus("");
  } else {
    notesStatus(t("notesUnsaved"));
    $("save-notes").disabled = false;
  }
}

function setCallQuickNotes(quick) {
  state.editor.quick = quick;
  // Quick notes are saved at once, with the notes as they are now.
  flushNotes();
  renderEditor();
}

// Binds the notes editor to a call's log and moves it where that call is shown.
export function bindEditor(callId, container) {
  const editor = state.editor;
  if (editor.callId !== callId) {
    if (editor.callId && (editor.dirty || editor.timer)) flushNotes();
    resetEditor();
    editor.callId = callId;
    const log = callId ? state.logs.get(callId) : null;
    $("notes").value = log?.notes || "";
    editor.quick = [...(log?.quick_notes || [])];
  } else if (callId && !editor.dirty && !editor.timer) {
    // Not typing: another tab's save (or ours, echoed) is the truth.
    const log = state.logs.get(callId);
    if (log) {
      if ($("notes").value !== log.notes) $("notes").value = log.notes;
      editor.quick = [...log.quick_notes];
    }
  }
  const node = $("notes-editor");
  if (!callId || !container) {
    node.hidden = true;
    return;
  }
  if (node.parentElement !== container) container.append(node);
  node.hidden = false;
  renderEditor();
}

function renderEditor() {
  const editor = state.editor;
  const data = state.data;
  const auto = settings().auto_save_notes !== false;
  $("notes-status").setAttribute("aria-live", auto ? "off" : "polite");
  $("save-notes").hidden = auto;
  $("save-notes").disabled = !editor.dirty;
  $("chips").replaceChildren(...editor.quick.map((text) => {
    const li = el("li", "chip");
    li.append(el("span", "chip-text", text));
    li.append(iconButton("close", t("removeQuickNote", { text }), `chip-${text}`,
      () => setCallQuickNotes(editor.quick.filter((q) => q !== text))));
    return li;
  }));
  $("chips").hidden = editor.quick.length === 0;
  const full = editor.quick.length >= MAX_CALL_QUICK_NOTES;
  const own = new Set(data?.own_quick_notes || []);
  const all = [...(data?.quick_notes || []), ...(data?.own_quick_notes || [])];
  const seen = new Set();
  $("quick-list").replaceChildren(...all.filter((text) => !seen.has(text) && seen.add(text))
    .map((text) => {
      const li = el("li");
      const add = el("button", "btn quick");
      add.type = "button";
      add.dataset.key = `quick-${text}`;
      add.append(icon("plus"), el("span", "", text));
      add.setAttribute("aria-label", t("addQuickNote", { text }));
      add.disabled = full || editor.quick.includes(text);
      add.addEventListener("click", () => setCallQuickNotes([...editor.quick, text]));
      li.append(add);
      if (own.has(text)) {
        li.append(iconButton("close", t("deleteQuickNote", { text }), `qdel-${text}`, () => {
          notice("");
          send({ type: "quick_note_remove", text });
        }));
      }
      return li;
    }));
}

export function addQuickNote(event) {
  event.preventDefault();
  const text = $("quick-new").value.trim();
  if (!text) return;
  notice("");
  if (send({ type: "quick_note_add", text: text.slice(0, 200) })) $("quick-new").value = "";
}

export function setupNotes() {
  $("notes").addEventListener("input", notesTyped);
  $("notes").addEventListener("blur", () => {
    if (state.editor.timer) flushNotes();
  });
  $("save-notes").addEventListener("click", flushNotes);
  $("quick-form").addEventListener("submit", addQuickNote);
}

/** The fork tree of the journals the server serves: parents and children, where each fork was made, and "you are here". */
import { html, nothing, type TemplateResult } from 'lit-html';
import type { FamilyListing, FamilyMember } from './types.js';

/** The last part of a journal's location (its directory name, or a PostgreSQL journal's name). */
const journalName = (location: string) =>
  location
    .replace(/[/\\]+$/, '')
    .split(/[/\\]/)
    .pop() ?? location;

/**
 * The tree: each member under its parent (by the parent's journal id), the point it was
 * forked at, which one is recording, and the one shown ("you are here"). A click on
 * another branch calls `select` with its id.
 */
export function forkTree(f: FamilyListing, here: string, select: (id: string) => void): TemplateResult {
  const ids = new Set(f.members.map((m) => m.id));
  const children = (id: string) => f.members.filter((m) => m.fork?.parentId === id);
  const roots = f.members.filter((m) => !m.fork || !ids.has(m.fork.parentId));
  const node = (m: FamilyMember): TemplateResult => {
    const kids = children(m.id);
    return html`<li data-journal=${m.id} class=${m.id === here ? 'here' : ''}>
      ${m.id === here ? html`<b class="branch">${journalName(m.location)}</b>` : html`<button class="branch" title=${m.location} @click=${() => select(m.id)}>${journalName(m.location)}</button>`}
      ${m.fork ? html`<span class="muted fork-point">forked at ${m.fork.point} (epoch ${m.fork.parentEpoch})</span>` : nothing} ${f.recording === m.id ? html`<span class="recording">● recording</span>` : nothing}
      ${m.id === here ? html`<span class="you-are-here">◀ you are here</span>` : nothing}
      ${
        kids.length
          ? html`<ul>
              ${kids.map(node)}
            </ul>`
          : nothing
      }
    </li>`;
  };
  return html`<h2>Branches</h2>
    <ul class="fork-tree" id="fork-tree">
      ${roots.map((m) =>
        m.fork
          ? html`<li class="muted">
              ${journalName(m.fork.parent)} (parent, not found beside)
              <ul>
                ${node(m)}
              </ul>
            </li>`
          : node(m),
      )}
    </ul>`;
}

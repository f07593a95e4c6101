// Paging over the API's continuation tokens: the token of every page seen is kept, so Previous re-reads a page
// without the API having to page backwards. One page is in memory at a time.
import { h, replaceChildren } from './dom.js';

export class TokenPager {
  constructor(load) {
    this.load = load;
    this.tokens = [undefined];
    this.index = 0;
    this.element = h('div', { class: 'pager' });
  }

  /** The continuation token that reads the current page (undefined for the first). */
  get token() {
    return this.tokens[this.index];
  }

  get pageNumber() {
    return this.index + 1;
  }

  /** Back to the first page (new filters). */
  reset() {
    this.tokens.length = 1;
    this.index = 0;
  }

  /** Records the token of the next page and redraws Previous / Next. */
  update(continuationToken) {
    this.tokens[this.index + 1] = continuationToken ?? undefined;
    const go = (step) => () => {
      this.index += step;
      void this.load();
    };
    replaceChildren(
      this.element,
      h('button', { type: 'button', class: 'secondary', disabled: this.index === 0, onclick: go(-1) }, '← Previous'),
      h('button', { type: 'button', class: 'secondary', id: 'next-page', disabled: !continuationToken, onclick: go(1) }, 'Next →'),
    );
  }
}

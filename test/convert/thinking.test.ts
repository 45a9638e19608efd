import { describe, expect, it } from 'vitest';
import { ThinkingExtractor, type ThinkingSink } from '../../src/convert/thinking.js';

type Op = ['text', string] | ['thinking', string] | ['start'] | ['end'];

/** Records sink calls, merging consecutive text (or thinking) pieces so chunking does not matter. */
function recorder(): { sink: ThinkingSink; ops: Op[]; raw: Op[] } {
  const ops: Op[] = [];
  const raw: Op[] = [];
  const add = (op: Op) => {
    raw.push(op);
    const last = ops[ops.length - 1];
    if ((op[0] === 'text' || op[0] === 'thinking') && last && last[0] === op[0]) {
      (last as [string, string])[1] += op[1];
    } else {
      ops.push(op.slice() as Op);
    }
  };
  return {
    ops,
    raw,
    sink: {
      text: (s) => add(['text', s]),
      thinkingStart: () => add(['start']),
      thinking: (s) => add(['thinking', s]),
      thinkingEnd: () => add(['end']),
    },
  };
}

function run(chunks: string[]): Op[] {
  const r = recorder();
  const x = new ThinkingExtractor(r.sink);
  for (const c of chunks) x.push(c);
  x.flush();
  return r.ops;
}

const REPLY = '<thinking>\nLet me think.\n</thinking>\n\nThe answer is 42.';
const EXPECTED: Op[] = [['start'], ['thinking', 'Let me think.\n'], ['end'], ['text', 'The answer is 42.']];

describe('ThinkingExtractor', () => {
  it('splits a thinking block from the answer, dropping the tags, the newline after the opening tag and the blank line after the closing tag', () => {
    expect(run([REPLY])).toEqual(EXPECTED);
  });

  it('gives the same result wherever the text is split into two events', () => {
    for (let i = 1; i < REPLY.length; i++) {
      expect(run([REPLY.slice(0, i), REPLY.slice(i)]), `split at ${i}`).toEqual(EXPECTED);
    }
  });

  it('gives the same result wherever the text is split into three events', () => {
    for (let i = 1; i < REPLY.length; i++) {
      for (let j = i + 1; j < REPLY.length; j++) {
        expect(run([REPLY.slice(0, i), REPLY.slice(i, j), REPLY.slice(j)]), `split at ${i},${j}`).toEqual(EXPECTED);
      }
    }
  });

  it('gives the same result when the text arrives one character per event', () => {
    expect(run([...REPLY])).toEqual(EXPECTED);
  });

  it('passes text without tags through at once, holding nothing back', () => {
    const r = recorder();
    const x = new ThinkingExtractor(r.sink);
    x.push('Hello, ');
    x.push('world');
    expect(r.raw).toEqual([
      ['text', 'Hello, '],
      ['text', 'world'],
    ]);
  });

  it('holds back only a possible partial tag at the end of an event and releases it as text when it is not a tag', () => {
    const r = recorder();
    const x = new ThinkingExtractor(r.sink);
    x.push('a <thi');
    expect(r.raw).toEqual([['text', 'a ']]);
    x.push('s> b');
    expect(r.ops).toEqual([['text', 'a <this> b']]);
  });

  it('holds back a partial closing tag inside thinking and streams the reasoning before it', () => {
    const r = recorder();
    const x = new ThinkingExtractor(r.sink);
    x.push('<thinking>\nstep one</thi');
    expect(r.raw).toEqual([['start'], ['thinking', 'step one']]);
    x.push('nking>\n\nok');
    expect(r.ops).toEqual([['start'], ['thinking', 'step one'], ['end'], ['text', 'ok']]);
  });

  it('does not treat a tag quoted with backticks, quotes or punctuation as real', () => {
    for (const text of ['Use the `<thinking>` tag.', 'Say "<thinking>" here', 'x(<thinking>)', 'a <thinking>.']) {
      for (let i = 1; i < text.length; i++) {
        expect(run([text.slice(0, i), text.slice(i)]), `${text} split at ${i}`).toEqual([['text', text]]);
      }
    }
  });

  it('does not end thinking at a quoted closing tag, only at the real one', () => {
    const text = '<thinking>\nThe `</thinking>\n\n` tag ends it.\n</thinking>\n\nDone';
    for (let i = 1; i < text.length; i++) {
      expect(run([text.slice(0, i), text.slice(i)]), `split at ${i}`).toEqual([
        ['start'],
        ['thinking', 'The `</thinking>\n\n` tag ends it.\n'],
        ['end'],
        ['text', 'Done'],
      ]);
    }
  });

  it('does not end thinking at a closing tag that is not followed by a blank line', () => {
    expect(run(['<thinking>\na</thinking> b\n</thinking>\n\nc'])).toEqual([
      ['start'],
      ['thinking', 'a</thinking> b\n'],
      ['end'],
      ['text', 'c'],
    ]);
  });

  it('drops whitespace-only text before the opening tag but keeps other text', () => {
    expect(run(['\n\n', '<thinking>\nx\n</thinking>\n\ny'])).toEqual([['start'], ['thinking', 'x\n'], ['end'], ['text', 'y']]);
    expect(run(['Hi\n<thinking>\nx\n</thinking>\n\ny'])).toEqual([
      ['text', 'Hi\n'],
      ['start'],
      ['thinking', 'x\n'],
      ['end'],
      ['text', 'y'],
    ]);
  });

  it('extracts only the first thinking block', () => {
    expect(run(['<thinking>\na\n</thinking>\n\nb <thinking>\nc\n</thinking>\n\n'])).toEqual([
      ['start'],
      ['thinking', 'a\n'],
      ['end'],
      ['text', 'b <thinking>\nc\n</thinking>\n\n'],
    ]);
  });

  it('on flush inside thinking, counts a closing tag followed only by whitespace as the end', () => {
    expect(run(['<thinking>\nabc\n</thinking>\n'])).toEqual([['start'], ['thinking', 'abc\n'], ['end']]);
    expect(run(['<thinking>\nabc\n</thinking>'])).toEqual([['start'], ['thinking', 'abc\n'], ['end']]);
  });

  it('on flush inside thinking without a closing tag, sends the rest as reasoning and closes the block', () => {
    expect(run(['<thinking>\nhalf a thou', 'ght </thi'])).toEqual([['start'], ['thinking', 'half a thought </thi'], ['end']]);
  });

  it('treats text after a flush inside thinking as plain text', () => {
    const r = recorder();
    const x = new ThinkingExtractor(r.sink);
    x.push('<thinking>\nplan');
    x.flush();
    x.push('<thinking>\nmore');
    x.flush();
    expect(r.ops).toEqual([['start'], ['thinking', 'plan'], ['end'], ['text', '<thinking>\nmore']]);
  });

  it('on flush before any tag, releases a held partial tag as text and drops held whitespace', () => {
    expect(run(['Hi <think'])).toEqual([['text', 'Hi <think']]);
    expect(run(['\n \n'])).toEqual([]);
  });

  it('keeps non-ASCII text intact around the tags', () => {
    const text = '<thinking>\n思考 🤔\n</thinking>\n\n答案 ✅';
    for (let i = 1; i < text.length; i++) {
      expect(run([text.slice(0, i), text.slice(i)])).toEqual([['start'], ['thinking', '思考 🤔\n'], ['end'], ['text', '答案 ✅']]);
    }
  });
});

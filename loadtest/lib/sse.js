// Reads a whole Anthropic SSE body (k6 has no streaming reader: http.post returns when the stream
// ended) and classifies it:
//   complete     every event parses, its data.type matches the event name, ends with message_stop
//   clean-error  the stream ended with an `event: error` the gateway sent on purpose (visible failure)
//   cut          anything else: unparsable event, no message_stop, body cut mid-event

/** @returns {{ outcome: 'complete'|'clean-error'|'cut', events: Array<{event: string, data: any}>, text: string, thinking: string, toolUses: Array<{id: string, name: string, input: string}>, stopReason: string|null, problem: string|null }} */
export function readSse(body) {
  const result = { outcome: 'cut', events: [], text: '', thinking: '', toolUses: [], stopReason: null, problem: null };
  if (typeof body !== 'string' || body.length === 0) {
    result.problem = 'empty body';
    return result;
  }
  if (!body.endsWith('\n\n')) result.problem = 'body does not end at an event boundary';
  const blocks = body.split('\n\n').filter((b) => b.trim() !== '');
  const openTools = {};
  for (const block of blocks) {
    let event = null;
    let data = '';
    for (const line of block.split('\n')) {
      if (line.startsWith('event:')) event = line.slice(6).trim();
      else if (line.startsWith('data:')) data += line.slice(5).trim();
      else if (line.startsWith(':')) continue; // comment / keep-alive
    }
    if (event === null && data === '') continue;
    let parsed;
    try {
      parsed = JSON.parse(data);
    } catch (e) {
      result.problem = `event ${event} has unparsable data: ${data.slice(0, 80)}`;
      return result;
    }
    if (event !== null && parsed.type !== event) {
      result.problem = `event ${event} carries data.type ${parsed.type}`;
      return result;
    }
    result.events.push({ event, data: parsed });
    if (parsed.type === 'content_block_start' && parsed.content_block && parsed.content_block.type === 'tool_use') {
      openTools[parsed.index] = { id: parsed.content_block.id, name: parsed.content_block.name, input: '' };
    } else if (parsed.type === 'content_block_delta' && parsed.delta) {
      if (parsed.delta.type === 'text_delta') result.text += parsed.delta.text;
      else if (parsed.delta.type === 'thinking_delta') result.thinking += parsed.delta.thinking;
      else if (parsed.delta.type === 'input_json_delta' && openTools[parsed.index]) openTools[parsed.index].input += parsed.delta.partial_json;
    } else if (parsed.type === 'content_block_stop' && openTools[parsed.index]) {
      result.toolUses.push(openTools[parsed.index]);
      delete openTools[parsed.index];
    } else if (parsed.type === 'message_delta' && parsed.delta) {
      result.stopReason = parsed.delta.stop_reason || null;
    }
  }
  const last = result.events[result.events.length - 1];
  if (result.problem === null && last && last.event === 'message_stop') result.outcome = 'complete';
  else if (last && last.event === 'error' && body.endsWith('\n\n')) {
    result.outcome = 'clean-error';
    result.problem = `SSE error: ${JSON.stringify(last.data.error || last.data).slice(0, 120)}`;
  } else if (result.problem === null) result.problem = `last event is ${last ? last.event : 'none'}, not message_stop`;
  return result;
}

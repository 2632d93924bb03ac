import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  chargedServiceTier,
  costNanos,
  dollarsToNanos,
  isValidPrice,
  MAX_COST_NANOS,
  maxCostNanos,
  nanosToDecimal,
} from '../../../lib/domain/cost.js';

const gpt4o = { input_cost_per_million: 2.5, output_cost_per_million: 10 };
const mini = { input_cost_per_million: 0.15, output_cost_per_million: 0.6 };

describe('costNanos', () => {
  it('is tokens times the price per 1M tokens, in nano-dollars', () => {
    // 1,000 input at $2.50/M = $0.0025; 500 output at $10/M = $0.005
    expect(costNanos({ inputTokens: 1000, outputTokens: 500 }, gpt4o)).toBe(7_500_000);
    // 3 input at $0.15/M = $0.00000045 exactly
    expect(costNanos({ inputTokens: 3, outputTokens: 0 }, mini)).toBe(450);
  });

  it('is exact for prices with up to three decimals, where floats are not', () => {
    // 0.075 * 3 in binary floating point is 0.22499999999999998
    expect(costNanos({ inputTokens: 3, outputTokens: 0 }, { input_cost_per_million: 0.075, output_cost_per_million: 0 })).toBe(225);
    fc.assert(
      fc.property(fc.nat(10_000_000), fc.integer({ min: 0, max: 100_000 }), (tokens, milli) => {
        const price = milli / 1000;
        return (
          costNanos({ inputTokens: tokens, outputTokens: 0 }, { input_cost_per_million: price, output_cost_per_million: 0 }) ===
          tokens * milli
        );
      }),
    );
  });

  it('is zero without tokens, whatever the price', () => {
    expect(costNanos({ inputTokens: 0, outputTokens: 0 }, gpt4o)).toBe(0);
  });
});

describe('nanosToDecimal', () => {
  it('writes exact decimal dollars', () => {
    expect(nanosToDecimal(0)).toBe('0');
    expect(nanosToDecimal(450)).toBe('0.00000045');
    expect(nanosToDecimal(7_500_000)).toBe('0.0075');
    expect(nanosToDecimal(2_000_000_000)).toBe('2');
    expect(nanosToDecimal(12_345_678_901)).toBe('12.345678901');
    expect(nanosToDecimal(-1)).toBe('-0.000000001');
  });

  it('round-trips through dollars for any safe amount below a million dollars', () => {
    fc.assert(fc.property(fc.integer({ min: 0, max: 1e15 }), (n) => dollarsToNanos(Number(nanosToDecimal(n))) === n));
  });

  it('refuses amounts that are not safe integers', () => {
    expect(() => nanosToDecimal(0.5)).toThrow(RangeError);
  });
});

describe('isValidPrice', () => {
  it('accepts zero and positive numbers, nothing else', () => {
    expect([0, 2.5].map(isValidPrice)).toEqual([true, true]);
    expect([-1, Number.NaN, Infinity, '1', null, undefined].map(isValidPrice)).toEqual([false, false, false, false, false, false]);
  });
});

describe('cost arithmetic cannot overflow (issue 11)', () => {
  it('an absurd product is capped at the largest exact amount, never thrown', () => {
    const nanos = costNanos(
      { inputTokens: 9_000_000_000_000, outputTokens: 9_000_000_000_000 },
      { input_cost_per_million: 1e9, output_cost_per_million: 1e9 },
    );
    expect(nanos).toBe(MAX_COST_NANOS);
    expect(() => nanosToDecimal(nanos)).not.toThrow();
  });
});

describe('cache tokens (providers)', () => {
  const claude = {
    input_cost_per_million: 3,
    output_cost_per_million: 15,
    cache_read_cost_per_million: 0.3,
    cache_write_cost_per_million: 3.75,
  };
  it('prices cache reads and writes at their own prices, apart from input', () => {
    // 100 x 3 + 10 x 15 + 1000 x 0.3 + 200 x 3.75 = 300 + 150 + 300 + 750 = 1500 micro-dollars x 1000
    expect(costNanos({ inputTokens: 100, outputTokens: 10, cacheReadTokens: 1000, cacheWriteTokens: 200 }, claude)).toBe(1_500_000);
  });
  it('1-hour cache writes (a part of the writes) at their own price; without one, at the write price', () => {
    const usage = { inputTokens: 0, outputTokens: 0, cacheWriteTokens: 3000, cacheWrite1hTokens: 2000 };
    // 1000 x 3.75 + 2000 x 6 = 15750 micro-dollars
    expect(costNanos(usage, { ...claude, cache_write_1h_cost_per_million: 6 })).toBe(15_750_000);
    expect(costNanos(usage, claude)).toBe(11_250_000);
    // More hour-long writes than writes: never more than the writes themselves.
    expect(costNanos({ ...usage, cacheWrite1hTokens: 9000 }, { ...claude, cache_write_1h_cost_per_million: 6 })).toBe(18_000_000);
  });
  it('a cache price that is absent (or invalid) is the input price, never zero', () => {
    expect(costNanos({ inputTokens: 0, outputTokens: 0, cacheReadTokens: 1000, cacheWriteTokens: 1000 }, gpt4o)).toBe(5_000_000);
    expect(
      costNanos({ inputTokens: 0, outputTokens: 0, cacheReadTokens: 1000 }, { ...gpt4o, cache_read_cost_per_million: Number.NaN }),
    ).toBe(2_500_000);
  });
});

describe('long-context tiers (found by review: a call past 200k input tokens was billed at the base price)', () => {
  const sonnet = {
    input_cost_per_million: 3,
    output_cost_per_million: 15,
    cache_read_cost_per_million: 0.3,
    cache_write_cost_per_million: 3.75,
    price_tiers: [
      {
        above_input_tokens: 200_000,
        input_cost_per_million: 6,
        output_cost_per_million: 22.5,
        cache_read_cost_per_million: 0.6,
        cache_write_cost_per_million: 7.5,
      },
    ],
  };
  it('a call with exactly the threshold of input tokens is at the base price', () => {
    expect(costNanos({ inputTokens: 200_000, outputTokens: 1000 }, sonnet)).toBe(
      costNanos({ inputTokens: 200_000, outputTokens: 1000 }, { input_cost_per_million: 3, output_cost_per_million: 15 }),
    );
  });
  it('one more input token (cache reads and writes count as input) prices the whole call at the tier', () => {
    const usage = { inputTokens: 1, outputTokens: 1000, cacheReadTokens: 150_000, cacheWriteTokens: 50_000 };
    // 1 x 6 + 1000 x 22.5 + 150000 x 0.6 + 50000 x 7.5 = 6 + 22500 + 90000 + 375000 micro-dollars
    expect(costNanos(usage, sonnet)).toBe(487_506_000);
  });
});

describe('1-hour writes past a long-context threshold (found by review: the tiers had no 1-hour price)', () => {
  const tiered = {
    input_cost_per_million: 3,
    output_cost_per_million: 15,
    cache_write_cost_per_million: 3.75,
    cache_write_1h_cost_per_million: 6,
    price_tiers: [{ above_input_tokens: 100, input_cost_per_million: 6, output_cost_per_million: 22.5, cache_write_cost_per_million: 7.5 }],
  };
  it("at the tier's 1-hour price", () => {
    const withHour = { ...tiered, price_tiers: [{ ...tiered.price_tiers[0]!, cache_write_1h_cost_per_million: 12 }] };
    expect(costNanos({ inputTokens: 0, outputTokens: 0, cacheWriteTokens: 1000, cacheWrite1hTokens: 1000 }, withHour)).toBe(12_000_000);
  });
  it("a tier without one (stored before tiers carried it): at the model's ratio of 1-hour to 5-minute writes, never the 5-minute price", () => {
    // 7.5 x 6 / 3.75 = 12, Anthropic's 1-hour price for the tier.
    expect(costNanos({ inputTokens: 0, outputTokens: 0, cacheWriteTokens: 1000, cacheWrite1hTokens: 1000 }, tiered)).toBe(12_000_000);
    // The strict bound reaches it too.
    expect(maxCostNanos({ inputTokens: 1000, outputTokens: 0 }, tiered)).toBe(12_000_000);
  });
  it("a tier and a model without one: at the tier's write price", () => {
    const { cache_write_1h_cost_per_million: _, ...noHour } = tiered;
    expect(costNanos({ inputTokens: 0, outputTokens: 0, cacheWriteTokens: 1000, cacheWrite1hTokens: 1000 }, noHour)).toBe(7_500_000);
  });
});

describe('maxCostNanos: the strict estimate is an upper bound at every price (found by review)', () => {
  const prices = {
    input_cost_per_million: 3,
    output_cost_per_million: 15,
    cache_read_cost_per_million: 0.3,
    cache_write_cost_per_million: 3.75,
    cache_write_1h_cost_per_million: 6,
    price_tiers: [
      {
        above_input_tokens: 1000,
        input_cost_per_million: 6,
        output_cost_per_million: 22.5,
        cache_read_cost_per_million: 0.6,
        cache_write_cost_per_million: 7.5,
        cache_write_1h_cost_per_million: 12,
      },
    ],
  };
  it('prices the input at the dearest input price (a 1-hour write), not the plain input price', () => {
    expect(maxCostNanos({ inputTokens: 1000, outputTokens: 10 }, prices)).toBe((1000 * 6 + 10 * 15) * 1000);
  });
  it('past a threshold, at the tier', () => {
    expect(maxCostNanos({ inputTokens: 1001, outputTokens: 10 }, prices)).toBe((1001 * 12 + 10 * 22.5) * 1000);
  });
  it('bounds every split of at most that many input tokens, below and past the threshold', () => {
    const bound = { inputTokens: 2000, outputTokens: 50 };
    const most = maxCostNanos(bound, prices);
    for (const total of [0, 1, 999, 1000, 1001, 1500, 2000])
      for (const [plain, read, write, hour] of [
        [total, 0, 0, 0],
        [0, total, 0, 0],
        [0, 0, total, 0],
        [0, 0, total, total],
        [Math.floor(total / 4), Math.floor(total / 4), total - 2 * Math.floor(total / 4), Math.floor(total / 8)],
      ] as const)
        expect(
          costNanos(
            { inputTokens: plain, cacheReadTokens: read, cacheWriteTokens: write, cacheWrite1hTokens: hour, outputTokens: 50 },
            prices,
          ),
        ).toBeLessThanOrEqual(most);
  });
  it('a tier cheaper than the base (not the library’s, but possible) never lowers the bound', () => {
    const cheaper = { ...prices, price_tiers: [{ above_input_tokens: 10, input_cost_per_million: 1, output_cost_per_million: 1 }] };
    expect(maxCostNanos({ inputTokens: 100, outputTokens: 10 }, cheaper)).toBe((100 * 6 + 10 * 15) * 1000);
  });
});

describe('web searches (Anthropic server_tool_use, Responses web_search_call): each at the per-search price', () => {
  const claude = { input_cost_per_million: 3, output_cost_per_million: 15, search_context_cost_per_query: 0.01 };

  it('tokens plus searches x price: 3 searches at $0.01 are 30,000,000 n$ over the tokens', () => {
    const tokens = costNanos({ inputTokens: 1000, outputTokens: 100 }, claude);
    expect(costNanos({ inputTokens: 1000, outputTokens: 100, webSearches: 3 }, claude)).toBe(tokens + 30_000_000);
  });

  it('exact for any per-search price down to a nano-dollar', () => {
    fc.assert(
      fc.property(fc.nat(100_000), fc.integer({ min: 0, max: 1_000_000_000 }), (searches, nanosEach) => {
        const price = { input_cost_per_million: 0, output_cost_per_million: 0, search_context_cost_per_query: nanosEach / 1e9 };
        return costNanos({ inputTokens: 0, outputTokens: 0, webSearches: searches }, price) === searches * nanosEach;
      }),
    );
  });

  it('absurd counts or prices are capped, never an overflow or NaN', () => {
    const dear = { ...claude, search_context_cost_per_query: 1e12 };
    expect(costNanos({ inputTokens: 0, outputTokens: 0, webSearches: Number.MAX_SAFE_INTEGER }, dear)).toBe(MAX_COST_NANOS);
    expect(maxCostNanos({ inputTokens: 0, outputTokens: 0, webSearches: Number.MAX_SAFE_INTEGER }, dear)).toBe(MAX_COST_NANOS);
  });

  it('the strict bound holds max_uses searches: at least what any call within it settles at', () => {
    fc.assert(
      fc.property(fc.nat(10_000), fc.nat(10_000), fc.nat(20), (input, output, maxUses) => {
        const bound = maxCostNanos({ inputTokens: input, outputTokens: output, webSearches: maxUses }, claude);
        const searches = Math.floor(maxUses / 2);
        return bound >= costNanos({ inputTokens: input, outputTokens: output, webSearches: searches }, claude);
      }),
    );
    expect(maxCostNanos({ inputTokens: 0, outputTokens: 0, webSearches: 5 }, claude)).toBe(50_000_000);
  });
});

describe('file searches (Responses file_search_call): each at the price per 1,000 calls', () => {
  const gpt = { input_cost_per_million: 2.5, output_cost_per_million: 10, file_search_cost_per_1k_calls: 2.5 };

  it('tokens plus calls x price / 1000: 4 calls at $2.50 per 1,000 are 10,000,000 n$ over the tokens', () => {
    const tokens = costNanos({ inputTokens: 1000, outputTokens: 100 }, gpt);
    expect(costNanos({ inputTokens: 1000, outputTokens: 100, fileSearches: 4 }, gpt)).toBe(tokens + 10_000_000);
  });

  it('beside web searches, each at its own price', () => {
    const both = { ...gpt, search_context_cost_per_query: 0.01 };
    const tokens = costNanos({ inputTokens: 1000, outputTokens: 100 }, both);
    expect(costNanos({ inputTokens: 1000, outputTokens: 100, webSearches: 2, fileSearches: 4 }, both)).toBe(
      tokens + 20_000_000 + 10_000_000,
    );
  });

  it('a model without the price charges the tokens only (recordSpend logs and counts the calls)', () => {
    const { file_search_cost_per_1k_calls: _, ...unpriced } = gpt;
    expect(costNanos({ inputTokens: 1000, outputTokens: 100, fileSearches: 4 }, unpriced)).toBe(
      costNanos({ inputTokens: 1000, outputTokens: 100 }, unpriced),
    );
  });

  it('exact for any per-call price down to a nano-dollar', () => {
    fc.assert(
      fc.property(fc.nat(100_000), fc.integer({ min: 0, max: 1_000_000_000 }), (calls, nanosEach) => {
        const price = { input_cost_per_million: 0, output_cost_per_million: 0, file_search_cost_per_1k_calls: nanosEach / 1e6 };
        return costNanos({ inputTokens: 0, outputTokens: 0, fileSearches: calls }, price) === calls * nanosEach;
      }),
    );
  });

  it('absurd counts or prices are capped, never an overflow or NaN', () => {
    const dear = { ...gpt, file_search_cost_per_1k_calls: 1e12 };
    const usage = { inputTokens: 0, outputTokens: 0, fileSearches: Number.MAX_SAFE_INTEGER };
    expect(costNanos(usage, dear)).toBe(MAX_COST_NANOS);
    expect(maxCostNanos(usage, dear)).toBe(MAX_COST_NANOS);
    // Each a finite number of nano-dollars, their sum past the largest double: still the cap.
    const huge = { ...gpt, file_search_cost_per_1k_calls: 1.5e286, search_context_cost_per_query: 1.5e283 };
    expect(costNanos({ ...usage, webSearches: Number.MAX_SAFE_INTEGER }, huge)).toBe(MAX_COST_NANOS);
    expect(maxCostNanos({ ...usage, webSearches: Number.MAX_SAFE_INTEGER }, huge)).toBe(MAX_COST_NANOS);
  });

  it('the strict bound holds max_tool_calls calls: at least what any call within it settles at', () => {
    fc.assert(
      fc.property(fc.nat(10_000), fc.nat(10_000), fc.nat(20), (input, output, maxCalls) => {
        const bound = maxCostNanos({ inputTokens: input, outputTokens: output, fileSearches: maxCalls }, gpt);
        const calls = Math.floor(maxCalls / 2);
        return bound >= costNanos({ inputTokens: input, outputTokens: output, fileSearches: calls }, gpt);
      }),
    );
    expect(maxCostNanos({ inputTokens: 0, outputTokens: 0, fileSearches: 5 }, gpt)).toBe(12_500_000);
  });
});

describe("the image generation tool's tokens: at its image model's prices, never the call model's", () => {
  const gpt = { input_cost_per_million: 2, output_cost_per_million: 8 };
  // gpt-image-1 as OpenAI prices it: $5/M text input, $1.25/M cached input, $40/M image output.
  const image = { input_cost_per_million: 5, output_cost_per_million: 40, cache_read_cost_per_million: 1.25 };
  const base = { inputTokens: 1000, outputTokens: 100 };

  it('a high-quality 1024x1536 image (6,240 output tokens) costs about $0.25 beside the tokens; no image model price: none of it', () => {
    const usage = { ...base, imageGen: { inputTokens: 50, outputTokens: 6240 } };
    // 50 x $5/M + 6,240 x $40/M = $0.00025 + $0.2496
    expect(costNanos(usage, gpt, { imageGen: image })).toBe(costNanos(base, gpt) + 249_850_000);
    // No image model price known: the call's tokens only, never the image tokens at the call model's prices.
    expect(costNanos(usage, gpt)).toBe(costNanos(base, gpt));
    expect(costNanos(usage, gpt, {})).toBe(costNanos(base, gpt));
  });

  it("its cached input at the image model's cache read price (without one, its input price)", () => {
    const usage = { ...base, imageGen: { inputTokens: 0, cacheReadTokens: 1_000_000, outputTokens: 0 } };
    expect(costNanos(usage, gpt, { imageGen: image }) - costNanos(base, gpt)).toBe(1_250_000_000);
    const { cache_read_cost_per_million: _, ...uncached } = image;
    expect(costNanos(usage, gpt, { imageGen: uncached }) - costNanos(base, gpt)).toBe(5_000_000_000);
  });

  it("the call's service tier is the call's: the image tokens stay at the image model's standard prices", () => {
    const tiered = { ...gpt, input_cost_per_million_priority: 4, output_cost_per_million_priority: 16 };
    const usage = { ...base, serviceTier: 'priority', imageGen: { inputTokens: 0, outputTokens: 1000 } };
    expect(costNanos(usage, tiered, { imageGen: image })).toBe(costNanos({ ...base, serviceTier: 'priority' }, tiered) + 40_000_000);
  });

  it('absurd counts or prices are capped, never an overflow or NaN', () => {
    const usage = { ...base, imageGen: { inputTokens: Number.MAX_SAFE_INTEGER, outputTokens: Number.MAX_SAFE_INTEGER } };
    expect(costNanos(usage, gpt, { imageGen: { input_cost_per_million: 1e300, output_cost_per_million: 1e300 } })).toBe(MAX_COST_NANOS);
  });
});

describe('service tiers (OpenAI `service_tier`): charged at the tier the answer reports', () => {
  const gpt = {
    input_cost_per_million: 1.25,
    output_cost_per_million: 10,
    cache_read_cost_per_million: 0.125,
    input_cost_per_million_priority: 2.5,
    output_cost_per_million_priority: 20,
    cache_read_cost_per_million_priority: 0.25,
    input_cost_per_million_flex: 0.625,
    output_cost_per_million_flex: 5,
  };
  const usage = { inputTokens: 1000, outputTokens: 100, cacheReadTokens: 400 };
  const standard = 1000 * 1.25 * 1000 + 100 * 10 * 1000 + 400 * 0.125 * 1000;

  it('priority at the priority prices, flex at the flex prices, default and none at the standard ones', () => {
    expect(costNanos(usage, gpt)).toBe(standard);
    expect(costNanos({ ...usage, serviceTier: 'default' }, gpt)).toBe(standard);
    expect(costNanos({ ...usage, serviceTier: 'priority' }, gpt)).toBe(2 * standard);
    // Flex has no cache-read price of its own: its input price, never below.
    expect(costNanos({ ...usage, serviceTier: 'flex' }, gpt)).toBe(1000 * 0.625 * 1000 + 100 * 5 * 1000 + 400 * 0.625 * 1000);
    expect(chargedServiceTier({ serviceTier: 'priority' }, gpt)).toBe('priority');
  });

  it('a tier the model has no price for is charged the standard prices (flex: dearer; priority: marked on the log)', () => {
    const plain = { input_cost_per_million: 1.25, output_cost_per_million: 10, cache_read_cost_per_million: 0.125 };
    expect(costNanos({ ...usage, serviceTier: 'priority' }, plain)).toBe(standard);
    expect(costNanos({ ...usage, serviceTier: 'flex' }, plain)).toBe(standard);
    expect(chargedServiceTier({ serviceTier: 'priority' }, plain)).toBe('default');
    // Half a tier (input without output) is no tier.
    expect(chargedServiceTier({ serviceTier: 'priority' }, { ...plain, input_cost_per_million_priority: 9 })).toBe('default');
  });

  it('priority is never charged below standard (a long-context tier may be dearer than the priority price)', () => {
    const tiered = { ...gpt, price_tiers: [{ above_input_tokens: 500, input_cost_per_million: 5, output_cost_per_million: 40 }] };
    const past = { inputTokens: 1000, outputTokens: 100, serviceTier: 'priority' };
    expect(costNanos(past, tiered)).toBe(costNanos({ inputTokens: 1000, outputTokens: 100 }, tiered));
  });

  it('the strict bound prices every tier the request can reach, so it holds whatever tier answers', () => {
    const e = { inputTokens: 1000, outputTokens: 100 };
    expect(maxCostNanos(e, gpt)).toBe(maxCostNanos(e, gpt, ['flex']));
    expect(maxCostNanos(e, gpt, ['priority'])).toBeGreaterThanOrEqual(costNanos({ ...e, serviceTier: 'priority' }, gpt));
    expect(maxCostNanos(e, gpt)).toBeLessThan(costNanos({ ...e, serviceTier: 'priority' }, gpt));
    fc.assert(
      fc.property(fc.nat(10_000), fc.nat(10_000), fc.nat(10_000), fc.constantFrom('priority', 'flex', 'default'), (i, c, o, tier) => {
        const bound = maxCostNanos({ inputTokens: i + c, outputTokens: o }, gpt, ['priority']);
        return bound >= costNanos({ inputTokens: i, cacheReadTokens: c, outputTokens: o, serviceTier: tier }, gpt);
      }),
    );
  });
});

describe('audio tokens (found by review: charged at the text price, a sixth of gpt-audio’s)', () => {
  const audio = {
    input_cost_per_million: 2.5,
    output_cost_per_million: 10,
    input_audio_cost_per_million: 32,
    output_audio_cost_per_million: 64,
  };

  it('the audio part of the input and output at the audio prices, the rest at the text prices', () => {
    const usage = { inputTokens: 1000, outputTokens: 2000, audioInputTokens: 900, audioOutputTokens: 1800 };
    expect(costNanos(usage, audio)).toBe(100 * 2.5 * 1000 + 900 * 32 * 1000 + 200 * 10 * 1000 + 1800 * 64 * 1000);
  });

  it('without audio prices, audio costs the text prices; audio counts beyond the tokens are capped at them', () => {
    expect(costNanos({ inputTokens: 10, outputTokens: 5, audioInputTokens: 10, audioOutputTokens: 5 }, gpt4o)).toBe(
      costNanos({ inputTokens: 10, outputTokens: 5 }, gpt4o),
    );
    expect(costNanos({ inputTokens: 10, outputTokens: 0, audioInputTokens: 50 }, audio)).toBe(10 * 32 * 1000);
  });

  it('strict mode’s bound prices every input token and output token at the dearer of text and audio', () => {
    expect(maxCostNanos({ inputTokens: 100, outputTokens: 10 }, audio)).toBe(100 * 32 * 1000 + 10 * 64 * 1000);
    const usage = { inputTokens: 100, outputTokens: 10, audioInputTokens: 100, audioOutputTokens: 10 };
    expect(costNanos(usage, audio)).toBeLessThanOrEqual(maxCostNanos(usage, audio));
  });

  it('a service tier keeps the model’s audio prices', () => {
    const priority = { ...audio, input_cost_per_million_priority: 5, output_cost_per_million_priority: 20 };
    const usage = { inputTokens: 100, outputTokens: 0, audioInputTokens: 100, serviceTier: 'priority' };
    expect(costNanos(usage, priority)).toBe(100 * 32 * 1000);
  });
});

describe('image tokens (found by review: gpt-image-1 input images at half their price, gpt-image-1.5 images at under a third)', () => {
  // gpt-image-1.5 as the price library has it: text $5 in and $10 out, images $8 in and $32 out.
  const image = {
    input_cost_per_million: 5,
    output_cost_per_million: 10,
    input_image_cost_per_million: 8,
    output_image_cost_per_million: 32,
  };
  const audioAndImage = { ...image, input_audio_cost_per_million: 40, output_audio_cost_per_million: 80 };

  it('the image part of the input and output at the image prices, the rest at the text prices', () => {
    const usage = { inputTokens: 1000, outputTokens: 5000, imageInputTokens: 600, imageOutputTokens: 4000 };
    expect(costNanos(usage, image)).toBe(400 * 5 * 1000 + 600 * 8 * 1000 + 1000 * 10 * 1000 + 4000 * 32 * 1000);
  });

  it('without image prices, images cost the text prices; image counts beyond the tokens are capped at them', () => {
    expect(costNanos({ inputTokens: 10, outputTokens: 5, imageInputTokens: 10, imageOutputTokens: 5 }, gpt4o)).toBe(
      costNanos({ inputTokens: 10, outputTokens: 5 }, gpt4o),
    );
    expect(costNanos({ inputTokens: 10, outputTokens: 4, imageInputTokens: 50, imageOutputTokens: 40 }, image)).toBe(
      10 * 8 * 1000 + 4 * 32 * 1000,
    );
  });

  it('audio and image tokens never overlap: images are at most what the audio left', () => {
    const usage = {
      inputTokens: 100,
      outputTokens: 10,
      audioInputTokens: 70,
      imageInputTokens: 70,
      audioOutputTokens: 10,
      imageOutputTokens: 10,
    };
    expect(costNanos(usage, audioAndImage)).toBe(70 * 40 * 1000 + 30 * 8 * 1000 + 10 * 80 * 1000);
  });

  it('the image generation tool’s input images and images at its model’s image prices', () => {
    const base = { inputTokens: 100, outputTokens: 20 };
    const tool = { inputTokens: 1000, outputTokens: 4000, imageInputTokens: 800, imageOutputTokens: 4000 };
    expect(costNanos({ ...base, imageGen: tool }, gpt4o, { imageGen: image }) - costNanos(base, gpt4o)).toBe(
      200 * 5 * 1000 + 800 * 8 * 1000 + 4000 * 32 * 1000,
    );
  });

  it('strict mode’s bound prices every input and output token at the dearest of text, audio and image', () => {
    expect(maxCostNanos({ inputTokens: 100, outputTokens: 10 }, image)).toBe(100 * 8 * 1000 + 10 * 32 * 1000);
    fc.assert(
      fc.property(
        fc.nat(10_000),
        fc.nat(10_000),
        fc.nat(10_000),
        fc.nat(10_000),
        fc.nat(10_000),
        fc.nat(10_000),
        (i, o, ai, ao, ii, io) => {
          const usage = {
            inputTokens: i,
            outputTokens: o,
            audioInputTokens: ai,
            audioOutputTokens: ao,
            imageInputTokens: ii,
            imageOutputTokens: io,
          };
          expect(costNanos(usage, audioAndImage)).toBeLessThanOrEqual(maxCostNanos(usage, audioAndImage));
        },
      ),
    );
  });

  it('service and long-context tiers keep the model’s image prices', () => {
    const tiered = {
      ...image,
      input_cost_per_million_priority: 10,
      output_cost_per_million_priority: 20,
      price_tiers: [{ above_input_tokens: 1000, input_cost_per_million: 6, output_cost_per_million: 12 }],
    };
    expect(
      costNanos({ inputTokens: 100, outputTokens: 10, imageInputTokens: 100, imageOutputTokens: 10, serviceTier: 'priority' }, tiered),
    ).toBe(100 * 8 * 1000 + 10 * 32 * 1000);
    expect(costNanos({ inputTokens: 2000, outputTokens: 10, imageInputTokens: 2000, imageOutputTokens: 10 }, tiered)).toBe(
      2000 * 8 * 1000 + 10 * 32 * 1000,
    );
  });
});

describe('rounding (found by review: rounded part by part, a call split into parts cost above its strict bound)', () => {
  it('a call is rounded once, so no split of its tokens costs more than its bound, at prices of many decimals', () => {
    const tiny = { input_cost_per_million: 0.0005, output_cost_per_million: 0.0005 };
    expect(costNanos({ inputTokens: 2, outputTokens: 0, imageInputTokens: 1 }, tiny)).toBe(
      maxCostNanos({ inputTokens: 2, outputTokens: 0 }, tiny),
    );
    const price = fc.double({ min: 0, max: 5, noNaN: true });
    fc.assert(
      fc.property(price, price, price, fc.nat(50), fc.nat(50), fc.nat(50), fc.nat(50), (p, cr, img, i, c, ii, o) => {
        const prices = {
          input_cost_per_million: p,
          output_cost_per_million: p,
          cache_read_cost_per_million: cr,
          input_image_cost_per_million: img,
        };
        const usage = { inputTokens: i, cacheReadTokens: c, imageInputTokens: ii, outputTokens: o };
        expect(costNanos(usage, prices)).toBeLessThanOrEqual(maxCostNanos({ inputTokens: i + c, outputTokens: o }, prices));
      }),
    );
  });
});

describe('code interpreter sessions', () => {
  const coded = { ...gpt4o, code_interpreter_cost_per_session: 0.03 };
  it('each 1 GB session at the price per session, beside the tokens; no price: none charged', () => {
    expect(costNanos({ inputTokens: 0, outputTokens: 0, codeInterpreterSessions: 4 }, coded)).toBe(120_000_000);
    expect(costNanos({ inputTokens: 1000, outputTokens: 0, codeInterpreterSessions: 1 }, coded)).toBe(2_500_000 + 30_000_000);
    expect(costNanos({ inputTokens: 0, outputTokens: 0, codeInterpreterSessions: 4 }, gpt4o)).toBe(0);
  });
  it('strict mode’s bound holds them', () => {
    expect(maxCostNanos({ inputTokens: 0, outputTokens: 0, codeInterpreterSessions: 64 }, coded)).toBe(1_920_000_000);
  });
});

describe('image tokens read from the cache (review: charged at the text cache price, half of gpt-image-1’s)', () => {
  const image1 = {
    input_cost_per_million: 5,
    output_cost_per_million: 40,
    cache_read_cost_per_million: 1.25,
    input_image_cost_per_million: 10,
    cache_read_image_cost_per_million: 2.5,
  };
  it('at the cached image price, the other reads at the cache read price; without one, at the cache read price', () => {
    const usage = { inputTokens: 0, outputTokens: 0, cacheReadTokens: 1000, cacheReadImageTokens: 800 };
    expect(costNanos(usage, image1)).toBe(200 * 1.25 * 1000 + 800 * 2.5 * 1000);
    const { cache_read_image_cost_per_million: _, ...without } = image1;
    expect(costNanos(usage, without)).toBe(1000 * 1.25 * 1000);
    expect(costNanos({ ...usage, cacheReadImageTokens: 5000 }, image1)).toBe(1000 * 2.5 * 1000);
  });
  it('strict mode’s bound holds them', () => {
    const usage = { inputTokens: 0, outputTokens: 0, cacheReadTokens: 1000, cacheReadImageTokens: 1000 };
    const dear = { ...image1, input_image_cost_per_million: 1, cache_read_image_cost_per_million: 20 };
    expect(costNanos(usage, dear)).toBeLessThanOrEqual(maxCostNanos({ inputTokens: 1000, outputTokens: 0 }, dear));
  });
});

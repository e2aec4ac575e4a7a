// scenario: builds large apim-sim scenarios (docs/apim-sim.md "Scenario file format") for the
// benchmark and the scale tests — the demo scenario plus `products` products, each with a policy
// holding `branches` per-team <when> branches (one llm-token-limit each, an <otherwise> default and
// a rate-limit), and `perProduct` subscriptions in each (the first `branches` of them have a branch).
import { readFileSync } from 'node:fs';

const DEMO = new URL('../../src/sim/scenarios/demo.json', import.meta.url);

export function productPolicy(product, branches) {
  const whens = Array.from({ length: branches }, (_, i) =>
    `            <when condition="@(context.Subscription.Id == &quot;${product}-team-${i}&quot;)">\n` +
    `                <llm-token-limit counter-key="@(context.Subscription.Id)" tokens-per-minute="${1000 * (i + 1)}" />\n` +
    '            </when>\n').join('');
  return '<policies>\n    <inbound>\n        <base />\n        <choose>\n' + whens +
    '            <otherwise>\n                <llm-token-limit counter-key="@(context.Subscription.Id)" tokens-per-minute="500" />\n' +
    '            </otherwise>\n        </choose>\n        <rate-limit calls="600" renewal-period="60" />\n    </inbound>\n' +
    '    <backend>\n        <base />\n    </backend>\n    <outbound>\n        <base />\n    </outbound>\n' +
    '    <on-error>\n        <base />\n    </on-error>\n</policies>';
}

// The demo scenario (4 subscriptions) grown by `products` products: `subscriptions` in all when
// given, else products x perProduct more.
export function largeScenario({ products = 20, perProduct = 100, branches = 50, subscriptions } = {}) {
  const sc = JSON.parse(readFileSync(DEMO, 'utf8'));
  const extra = subscriptions !== undefined ? subscriptions - sc.subscriptions.length : products * perProduct;
  for (let p = 0; p < products; p++) {
    perProduct = Math.floor(extra / products) + (p < extra % products ? 1 : 0);
    const name = `product-${String(p).padStart(2, '0')}`;
    sc.products.push({
      name,
      properties: { displayName: `Product ${p}`, subscriptionRequired: true, state: 'published' },
      policy: productPolicy(name, Math.min(branches, perProduct)),
      apis: ['aoai-completions'],
    });
    for (let i = 0; i < perProduct; i++) {
      sc.subscriptions.push({
        name: `${name}-team-${i}`,
        properties: { displayName: `Team ${i} of product ${p}`, scope: `/products/${name}`,
          state: i % 10 === 9 ? 'suspended' : 'active' },
      });
    }
  }
  return sc;
}

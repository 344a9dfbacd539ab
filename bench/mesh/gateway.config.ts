/**
 * Hive Gateway over the composed supergraph (mesh.config.ts): Order.crmCustomer from HubSpot, batched
 * (Shopify's own Order.customer is its shop customer, so the CRM join takes another name).
 *
 *   HARMONIA_MESH_UPSTREAM=http://127.0.0.1:8100 npx hive-gateway supergraph /tmp/supergraph.graphql -p 4000
 *
 * Each order's email is a key; the in-context SDK's DataLoader gathers every key of one query into
 * one `POST /crm/v3/objects/contacts/batch/read` with `idProperty: "email"`, as Harmonia does.
 * HubSpot answers in its own order, skips unknown emails and stores emails with stray case and
 * spaces, so results are matched to keys on the normalised email (Harmonia matches the same way).
 */
import { defineConfig } from '@graphql-hive/gateway';

type Properties = { email?: string | null; firstname?: string | null; lastname?: string | null; phone?: string | null };
type BatchResult = { results?: ({ properties?: Properties | null } | null)[] | null } | null;

const normalise = (email: string | null | undefined): string | null => {
  const cleaned = (email ?? '').trim().toLowerCase();
  return cleaned === '' ? null : cleaned;
};

export const gatewayConfig = defineConfig({
  additionalResolvers: {
    Order: {
      crmCustomer: {
        selectionSet: '{ email }',
        resolve(order: { email?: string | null }, _args: unknown, context: any, info: any) {
          return context.HubSpot.Query.contactsBatchRead({
            root: order,
            context,
            info,
            key: normalise(order.email),
            argsFromKeys: (keys: readonly string[]) => ({
              input: {
                idProperty: 'email',
                properties: ['email', 'firstname', 'lastname', 'phone'],
                inputs: keys.map(id => ({ id })),
              },
            }),
            selectionSet: '{ results { properties { email firstname lastname phone } } }',
            valuesFromResults: (data: BatchResult, keys: readonly string[]) => {
              const byEmail = new Map<string, Properties>();
              for (const contact of data?.results ?? []) {
                const email = normalise(contact?.properties?.email);
                if (email && contact?.properties && !byEmail.has(email)) byEmail.set(email, contact.properties);
              }
              return keys.map(key => {
                const found = byEmail.get(key);
                return found
                  ? { email: found.email?.trim() ?? null, firstName: found.firstname ?? null,
                      lastName: found.lastname ?? null, phone: found.phone ?? null }
                  : null;
              });
            },
          });
        },
      },
    },
  },
});

/**
 * GraphQL Mesh composition over the Harmonia simulators' REST APIs (workload (b) of bench/run.py).
 *
 *   HARMONIA_MESH_UPSTREAM=http://127.0.0.1:8100 npx mesh-compose -o /tmp/supergraph.graphql
 *
 * The upstream base URL stays a placeholder in the supergraph and is read from the environment by
 * the gateway at request time, so one composed file serves any simulator port. Credentials are the
 * simulators' demo ones (harmonia/settings.py DEMO_CREDENTIALS).
 */
import { defineConfig } from '@graphql-mesh/compose-cli';
import { loadJSONSchemaSubgraph } from '@omnigraph/json-schema';

export const composeConfig = defineConfig({
  subgraphs: [
    {
      sourceHandler: loadJSONSchemaSubgraph('Shopify', {
        endpoint: '{env.HARMONIA_MESH_UPSTREAM}/shopify/admin/api/2024-04',
        operationHeaders: { 'X-Shopify-Access-Token': 'shpat_demo_shopify_token' },
        operations: [
          {
            type: 'Query',
            field: 'orders',
            // Shopify lists only open orders unless asked; Harmonia asks for every status.
            path: '/orders.json?limit={args.limit}&status=any',
            method: 'GET',
            argTypeMap: { limit: { type: 'integer' } },
            responseSchema: './schemas/shopify-orders.json',
          },
        ],
      }),
    },
    {
      sourceHandler: loadJSONSchemaSubgraph('HubSpot', {
        endpoint: '{env.HARMONIA_MESH_UPSTREAM}/hubspot/crm/v3',
        operationHeaders: { Authorization: 'Bearer pat-na1-demo-hubspot-token' },
        operations: [
          {
            type: 'Query',
            field: 'contactsBatchRead',
            path: '/objects/contacts/batch/read',
            method: 'POST',
            requestSchema: './schemas/hubspot-batch-read-request.json',
            responseSchema: './schemas/hubspot-batch-read-response.json',
          },
        ],
      }),
    },
  ],
  // Resolved in gateway.config.ts with one batched HubSpot call per query.
  additionalTypeDefs: /* GraphQL */ `
    type OrderCustomer {
      email: String
      firstName: String
      lastName: String
      phone: String
    }
    extend type ShopifyOrder {
      customer: OrderCustomer
    }
  `,
});

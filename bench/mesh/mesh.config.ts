/**
 * GraphQL Mesh composition over the Harmonia simulators (workload (b) of bench/run.py): Shopify's
 * GraphQL Admin API and HubSpot's REST batch read.
 *
 *   HARMONIA_MESH_UPSTREAM=http://127.0.0.1:8100 HARMONIA_MESH_SHOPIFY_SDL=/tmp/shopify-admin.graphql \
 *     npx mesh-compose -o /tmp/supergraph.graphql
 *
 * The upstream base URL stays a placeholder in the supergraph and is read from the environment by
 * the gateway at request time, so one composed file serves any simulator port. Shopify's schema is the
 * simulator's own SDL (bench/mesh_gateway.py writes it out before composing), so composing needs no
 * introspection call. Credentials are the simulators' demo ones (harmonia/settings.py DEMO_CREDENTIALS).
 */
import { defineConfig, loadGraphQLHTTPSubgraph } from '@graphql-mesh/compose-cli';
import { loadJSONSchemaSubgraph } from '@omnigraph/json-schema';

export const composeConfig = defineConfig({
  subgraphs: [
    {
      sourceHandler: loadGraphQLHTTPSubgraph('Shopify', {
        endpoint: '{env.HARMONIA_MESH_UPSTREAM}/shopify/admin/api/2026-10/graphql.json',
        source: process.env.HARMONIA_MESH_SHOPIFY_SDL,
        operationHeaders: { 'X-Shopify-Access-Token': 'shpat_demo_shopify_token' },
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
    extend type Order {
      crmCustomer: OrderCustomer
    }
  `,
});

/**
 * The single table, shaped by lib/store/schema.ts (the same description local mode creates its
 * table from): string keys PK/SK, the generic GSIs (keys only), TTL on `ttl`, on-demand, point-in-time
 * recovery always on.
 */
import { RemovalPolicy } from 'aws-cdk-lib';
import { AttributeType, Billing, ProjectionType, StreamViewType, TableV2 } from 'aws-cdk-lib/aws-dynamodb';
import { Construct } from 'constructs';
import { TABLE_SCHEMA } from '../../lib/store/schema.js';
import type { TableRemovalPolicy } from './options.js';

export interface TollgateTableProps {
  deletionProtection: boolean;
  removalPolicy: TableRemovalPolicy;
}

export class TollgateTable extends Construct {
  readonly table: TableV2;
  /** The index ARNs, named one by one so no grant needs `index/*`. */
  readonly indexArns: string[];

  constructor(scope: Construct, id: string, props: TollgateTableProps) {
    super(scope, id);
    const s = (name: string) => ({ name, type: AttributeType.STRING });
    this.table = new TableV2(this, 'Table', {
      partitionKey: s(TABLE_SCHEMA.partitionKey),
      sortKey: s(TABLE_SCHEMA.sortKey),
      billing: Billing.onDemand(),
      timeToLiveAttribute: TABLE_SCHEMA.ttlAttribute,
      // Spend logs and rollups are built from it, off the request path (functions/table-stream).
      dynamoStream: StreamViewType[TABLE_SCHEMA.streamView],
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      deletionProtection: props.deletionProtection,
      removalPolicy: props.removalPolicy === 'destroy' ? RemovalPolicy.DESTROY : RemovalPolicy.RETAIN,
      globalSecondaryIndexes: TABLE_SCHEMA.indexes.map((i) => ({
        indexName: i.name,
        partitionKey: s(i.partitionKey),
        sortKey: s(i.sortKey),
        projectionType: ProjectionType[TABLE_SCHEMA.indexProjection],
      })),
    });
    this.indexArns = TABLE_SCHEMA.indexes.map((i) => `${this.table.tableArn}/index/${i.name}`);
  }
}

/**
 * The console's hosting: a private bucket read only by the distribution (OAC), the console at
 * /ui and /ui/* with its security headers, the REST API behind the same distribution with
 * nothing cached and no CORS anywhere, and a deploy-time copier that may touch only its asset
 * and ui/ of the bucket. cdk-nag over the whole stack is in stack.test.ts.
 */
import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import { CACHE_IMMUTABLE, CACHE_REVALIDATE, CONSOLE_CSP } from '../../infra/console-site.js';
import { CONSOLE_REWRITE_CODE } from '../../infra/constructs/console.js';
import { actionsOf, type CfnResource, logicalId, ofType, resourcesOf, type Statement, synth } from './template.js';

const s = synth({ logRetentionDays: 14 });
const one = (type: string): [string, CfnResource] => {
  const all = ofType(s, type);
  expect(all, type).toHaveLength(1);
  return all[0] as [string, CfnResource];
};
const [bucketId, bucket] = one('AWS::S3::Bucket');
const [distributionId, distribution] = one('AWS::CloudFront::Distribution');
const config = distribution.Properties.DistributionConfig as Record<string, any>;
const bucketArn = { 'Fn::GetAtt': [bucketId, 'Arn'] };
const objectsArn = (suffix: string) => ({ 'Fn::Join': ['', [bucketArn, suffix]] });

// CloudFront's managed policies, by their documented ids.
const CACHING_DISABLED = '4135ea2d-6df8-44a3-9df3-4b5a84be39ad';
const CACHING_OPTIMIZED = '658327ea-f89d-4fab-a63d-7e88639e58f6';
const ALL_VIEWER_EXCEPT_HOST_HEADER = 'b689b0a8-53d0-40ab-baf2-68738e2966ac';

describe('the console bucket', () => {
  it('is private: every public access blocked, objects owned by the bucket, encrypted, TLS only', () => {
    expect(bucket.Properties.PublicAccessBlockConfiguration).toEqual({
      BlockPublicAcls: true,
      BlockPublicPolicy: true,
      IgnorePublicAcls: true,
      RestrictPublicBuckets: true,
    });
    expect(bucket.Properties.OwnershipControls).toEqual({ Rules: [{ ObjectOwnership: 'BucketOwnerEnforced' }] });
    expect(bucket.Properties.BucketEncryption.ServerSideEncryptionConfiguration[0].ServerSideEncryptionByDefault.SSEAlgorithm).toBe(
      'AES256',
    );
    expect(bucket.Properties.WebsiteConfiguration).toBeUndefined();
    expect(bucket.Properties.CorsConfiguration).toBeUndefined();
  });

  it('is read by this distribution alone, through origin access control; nobody reads it over plain HTTP', () => {
    const [, policy] = one('AWS::S3::BucketPolicy');
    const statements = policy.Properties.PolicyDocument.Statement as (Statement & { Principal: unknown })[];
    const allows = statements.filter((st) => st.Effect === 'Allow');
    expect(allows).toHaveLength(1);
    expect(allows[0]).toMatchObject({
      Action: 's3:GetObject',
      Principal: { Service: 'cloudfront.amazonaws.com' },
      Resource: objectsArn('/*'),
    });
    expect(JSON.stringify(allows[0]?.Condition)).toContain(distributionId);
    expect(statements.find((st) => st.Effect === 'Deny')).toMatchObject({
      Action: 's3:*',
      Condition: { Bool: { 'aws:SecureTransport': 'false' } },
    });
    const [, oac] = one('AWS::CloudFront::OriginAccessControl');
    expect(oac.Properties.OriginAccessControlConfig).toMatchObject({
      OriginAccessControlOriginType: 's3',
      SigningBehavior: 'always',
      SigningProtocol: 'sigv4',
    });
    const s3Origin = (config.Origins as Record<string, any>[]).find((o) => o.S3OriginConfig);
    expect(s3Origin?.OriginAccessControlId).toEqual({ 'Fn::GetAtt': [ofType(s, 'AWS::CloudFront::OriginAccessControl')[0]?.[0], 'Id'] });
    expect(s3Origin?.S3OriginConfig).toEqual({ OriginAccessIdentity: '' });
  });

  it('is kept when the stack goes (static files; the table has its own option)', () => {
    expect(bucket.DeletionPolicy).toBe('Retain');
  });
});

describe('the distribution', () => {
  const behaviors = config.CacheBehaviors as Record<string, any>[];
  const apiOrigin = (config.Origins as Record<string, any>[]).find((o) => o.CustomOriginConfig) as Record<string, any>;

  it('serves the console at /ui and /ui/* from the bucket: GET and HEAD, cached, compressed, HTTPS', () => {
    expect(behaviors.map((b) => b.PathPattern)).toEqual(['/ui', '/ui/*']);
    for (const b of behaviors) {
      expect(b.TargetOriginId).toBe((config.Origins as Record<string, any>[]).find((o) => o.S3OriginConfig)?.Id);
      expect(b.AllowedMethods).toEqual(['GET', 'HEAD']);
      expect(b.CachePolicyId).toBe(CACHING_OPTIMIZED);
      expect(b.Compress).toBe(true);
      expect(b.ViewerProtocolPolicy).toBe('redirect-to-https');
      expect(b.FunctionAssociations).toEqual([
        { EventType: 'viewer-request', FunctionARN: { 'Fn::GetAtt': [ofType(s, 'AWS::CloudFront::Function')[0]?.[0], 'FunctionARN'] } },
      ]);
      expect(b.ResponseHeadersPolicyId).toEqual({ Ref: ofType(s, 'AWS::CloudFront::ResponseHeadersPolicy')[0]?.[0] });
    }
  });

  it('sends every other path to the REST API stage: all methods, nothing cached, every viewer header but Host', () => {
    const d = config.DefaultCacheBehavior as Record<string, any>;
    expect(d.TargetOriginId).toBe(apiOrigin.Id);
    expect(d.AllowedMethods).toEqual(['GET', 'HEAD', 'OPTIONS', 'PUT', 'PATCH', 'POST', 'DELETE']);
    expect(d.CachePolicyId).toBe(CACHING_DISABLED);
    expect(d.OriginRequestPolicyId).toBe(ALL_VIEWER_EXCEPT_HOST_HEADER);
    expect(d.ViewerProtocolPolicy).toBe('https-only');
    expect(d.Compress).toBe(false);
    expect(d.ResponseHeadersPolicyId).toBeUndefined();
    expect(apiOrigin.CustomOriginConfig).toEqual({ OriginProtocolPolicy: 'https-only', OriginSSLProtocols: ['TLSv1.2'] });
    const domain = JSON.stringify(apiOrigin.DomainName);
    expect(domain).toContain(logicalId(s, s.stack.api.api));
    expect(domain).toContain('.execute-api.');
    expect(JSON.stringify(apiOrigin.OriginPath)).toContain(logicalId(s, s.stack.api.api.deploymentStage));
  });

  it('gives the console files its CSP (this origin only), HSTS and the other security headers; no CORS anywhere', () => {
    const [, policy] = one('AWS::CloudFront::ResponseHeadersPolicy');
    const c = policy.Properties.ResponseHeadersPolicyConfig as Record<string, any>;
    expect(c.SecurityHeadersConfig.ContentSecurityPolicy).toEqual({ ContentSecurityPolicy: CONSOLE_CSP, Override: true });
    expect(c.SecurityHeadersConfig.FrameOptions).toEqual({ FrameOption: 'DENY', Override: true });
    expect(c.SecurityHeadersConfig.ReferrerPolicy).toEqual({ ReferrerPolicy: 'no-referrer', Override: true });
    expect(c.SecurityHeadersConfig.ContentTypeOptions).toEqual({ Override: true });
    expect(c.SecurityHeadersConfig.StrictTransportSecurity).toMatchObject({ AccessControlMaxAgeSec: 31_536_000, Override: true });
    expect(c.CorsConfig).toBeUndefined();
    // Nothing in the template answers a cross-origin caller: no CORS headers, no OPTIONS methods.
    const template = JSON.stringify(s.template.toJSON());
    expect(template).not.toMatch(/Access-Control-Allow-Origin/i);
    expect(ofType(s, 'AWS::ApiGateway::Method').filter(([, m]) => m.Properties.HttpMethod === 'OPTIONS')).toEqual([]);
  });

  it('its viewer function sends /ui to /ui/ and a folder to its index.html, and leaves files alone', () => {
    const [, fn] = one('AWS::CloudFront::Function');
    expect(fn.Properties.FunctionConfig.Runtime).toBe('cloudfront-js-2.0');
    expect(fn.Properties.FunctionCode).toBe(CONSOLE_REWRITE_CODE);
    const handler = runInNewContext(`${CONSOLE_REWRITE_CODE}; handler`) as (e: unknown) => Record<string, any>;
    const run = (uri: string) => handler({ request: { uri, method: 'GET', headers: {}, querystring: {} } });
    expect(run('/ui')).toMatchObject({ statusCode: 308, headers: { location: { value: '/ui/' } } });
    expect(run('/ui/').uri).toBe('/ui/index.html');
    expect(run('/ui/assets/index-abc.js').uri).toBe('/ui/assets/index-abc.js');
  });

  it('the console URL is an output: https://<distribution>/ui/', () => {
    const outputs = s.template.toJSON().Outputs as Record<string, { Value: unknown }>;
    expect(outputs.ConsoleUrl?.Value).toEqual({ 'Fn::Join': ['', ['https://', { 'Fn::GetAtt': [distributionId, 'DomainName'] }, '/ui/']] });
  });
});

describe('the deployment of the files', () => {
  const deployments = ofType(s, 'Custom::CDKBucketDeployment').map(([, d]) => d.Properties as Record<string, any>);

  it('copies the build under ui/: hashed assets cached for good and kept, pages revalidated and pruned', () => {
    expect(deployments).toHaveLength(2);
    for (const d of deployments) {
      expect(d.DestinationBucketName).toEqual({ Ref: bucketId });
      expect(d.DestinationBucketKeyPrefix).toBe('ui/');
      expect(d.DistributionId).toBeUndefined();
    }
    const assets = deployments.find((d) => d.Include) as Record<string, any>;
    const pages = deployments.find((d) => !d.Include) as Record<string, any>;
    expect(assets).toMatchObject({
      Include: ['assets/*'],
      Exclude: ['*'],
      Prune: false,
      SystemMetadata: { 'cache-control': CACHE_IMMUTABLE },
    });
    expect(pages).toMatchObject({ Exclude: ['assets/*'], Prune: true, SystemMetadata: { 'cache-control': CACHE_REVALIDATE } });
    expect(assets.SourceObjectKeys).toEqual(pages.SourceObjectKeys);
  });

  it('runs under a role of ours: its log group, its one asset object, and ui/ of the console bucket; nothing else', () => {
    const roleId = logicalId(s, s.stack.console.deployRole);
    const [copier] = ofType(s, 'AWS::Lambda::Function').filter(
      ([, f]) => JSON.stringify(f.Properties.Role) === JSON.stringify({ 'Fn::GetAtt': [roleId, 'Arn'] }),
    );
    expect(copier).toBeDefined();
    const role = s.resources[roleId] as CfnResource;
    expect(role.Properties.ManagedPolicyArns).toBeUndefined();
    expect(role.Properties.Policies).toBeUndefined();
    const statements = ofType(s, 'AWS::IAM::Policy')
      .filter(([, p]) => (p.Properties.Roles as { Ref: string }[]).some((r) => r.Ref === roleId))
      .flatMap(([, p]) => p.Properties.PolicyDocument.Statement as Statement[]);
    const logs = copier?.[1].Properties.LoggingConfig.LogGroup as { Ref: string };
    expect((s.resources[logs.Ref] as CfnResource).Properties.RetentionInDays).toBe(14);
    expect(statements.map((st) => [actionsOf(st).sort(), resourcesOf(st)])).toEqual([
      [['logs:CreateLogStream', 'logs:PutLogEvents'], [{ 'Fn::GetAtt': [logs.Ref, 'Arn'] }]],
      [
        ['s3:GetObject'],
        [expect.objectContaining({ 'Fn::Join': ['', expect.arrayContaining([expect.stringMatching(/^\/[0-9a-f]{64}\.zip$/)])] })],
      ],
      [['s3:ListBucket'], [bucketArn]],
      [['s3:DeleteObject', 's3:PutObject'], [objectsArn('/ui/*')]],
    ]);
    for (const st of statements) expect(st.Effect).toBe('Allow');
  });
});

describe('single sign-on (consoleOidcClientId)', () => {
  const issuer = 'https://idp.example.com/tenant/';
  const withSso = synth({
    logRetentionDays: 14,
    jwtIssuer: [issuer],
    jwtJwksUri: ['https://idp.example.com/tenant/jwks'],
    consoleOidcClientId: 'tollgate-console',
    consoleOidcTokenEndpoint: 'https://login.example.net/oauth2/token',
  });
  const csp = (t: typeof s) =>
    (ofType(t, 'AWS::CloudFront::ResponseHeadersPolicy')[0]?.[1].Properties.ResponseHeadersPolicyConfig as Record<string, any>)
      .SecurityHeadersConfig.ContentSecurityPolicy.ContentSecurityPolicy as string;

  it("the console's CSP lets it reach the issuer and the token endpoint, and nothing else", () => {
    expect(csp(withSso)).toContain("connect-src 'self' https://idp.example.com https://login.example.net;");
    expect(csp(s)).toContain("connect-src 'self';");
  });

  it("the settings are part of the console's asset (config.json): other settings, another asset", () => {
    const assetKey = (t: typeof s) =>
      JSON.stringify(ofType(t, 'Custom::CDKBucketDeployment').map(([, r]) => r.Properties.SourceObjectKeys));
    expect(assetKey(withSso)).not.toBe(assetKey(s));
  });

  it('an issuer Tollgate does not trust, or no https, is refused at synth', () => {
    expect(() => synth({ consoleOidcClientId: 'c' })).toThrow(/needs an issuer/);
    expect(() =>
      synth({
        jwtIssuer: [issuer],
        jwtJwksUri: ['https://idp.example.com/j'],
        consoleOidcClientId: 'c',
        consoleOidcIssuer: 'https://other.example/',
      }),
    ).toThrow(/not a trusted JWT issuer/);
    expect(() =>
      synth({ jwtIssuer: ['http://idp.example.com/'], jwtJwksUri: ['https://idp.example.com/j'], consoleOidcClientId: 'c' }),
    ).toThrow(/must be https/);
  });
});

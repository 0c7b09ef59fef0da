/** The XML bodies the File service returns: errors and enumeration results. */
import type { ListedEntry } from './store.js';

const PROLOG = '<?xml version="1.0" encoding="utf-8"?>';

export function xmlEscape(s: string): string {
  return s.replace(/[<>&"']/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;', "'": '&apos;' })[c]!);
}

export function errorXml(code: string, message: string, detail?: string): string {
  const extra = detail ? `<AuthenticationErrorDetail>${xmlEscape(detail)}</AuthenticationErrorDetail>` : '';
  return `${PROLOG}<Error><Code>${xmlEscape(code)}</Code><Message>${xmlEscape(message)}</Message>${extra}</Error>`;
}

export interface ListPage {
  serviceEndpoint: string;
  share: string;
  directoryPath: string;
  prefix?: string;
  marker?: string;
  maxResults?: number;
  entries: ListedEntry[];
  nextMarker: string;
}

export function listDirectoryXml(p: ListPage): string {
  const parts: string[] = [
    `${PROLOG}<EnumerationResults ServiceEndpoint="${xmlEscape(p.serviceEndpoint)}" ShareName="${xmlEscape(p.share)}" DirectoryPath="${xmlEscape(p.directoryPath)}">`,
  ];
  if (p.prefix !== undefined) parts.push(`<Prefix>${xmlEscape(p.prefix)}</Prefix>`);
  if (p.marker !== undefined) parts.push(`<Marker>${xmlEscape(p.marker)}</Marker>`);
  if (p.maxResults !== undefined) parts.push(`<MaxResults>${p.maxResults}</MaxResults>`);
  parts.push('<Entries>');
  for (const e of p.entries) {
    if (e.kind === 'file') {
      parts.push(`<File><Name>${xmlEscape(e.name)}</Name><Properties><Content-Length>${e.size}</Content-Length></Properties></File>`);
    } else {
      parts.push(`<Directory><Name>${xmlEscape(e.name)}</Name><Properties /></Directory>`);
    }
  }
  parts.push('</Entries>', `<NextMarker>${xmlEscape(p.nextMarker)}</NextMarker>`, '</EnumerationResults>');
  return parts.join('');
}

export interface ListedShare {
  name: string;
  etag: string;
  lastModified: Date;
}

export function listSharesXml(serviceEndpoint: string, shares: ListedShare[], prefix?: string): string {
  const parts = [`${PROLOG}<EnumerationResults ServiceEndpoint="${xmlEscape(serviceEndpoint)}">`];
  if (prefix !== undefined) parts.push(`<Prefix>${xmlEscape(prefix)}</Prefix>`);
  parts.push('<Shares>');
  for (const s of shares) {
    parts.push(
      `<Share><Name>${xmlEscape(s.name)}</Name><Properties><Last-Modified>${s.lastModified.toUTCString()}</Last-Modified>` +
        `<Etag>${xmlEscape(s.etag)}</Etag><Quota>5120</Quota></Properties></Share>`,
    );
  }
  parts.push('</Shares><NextMarker /></EnumerationResults>');
  return parts.join('');
}

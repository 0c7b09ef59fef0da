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

/** What List Directories and Files may `include` (REST spec ListFilesIncludeType, 2020-04-08 on). */
export const LIST_INCLUDES = ['Timestamps', 'Etag', 'Attributes', 'PermissionKey'] as const;
export type ListInclude = (typeof LIST_INCLUDES)[number];

export interface ListPage {
  serviceEndpoint: string;
  share: string;
  directoryPath: string;
  prefix?: string;
  marker?: string;
  maxResults?: number;
  entries: ListedEntry[];
  nextMarker: string;
  /** What the request asked each entry to carry besides its name (and a file's length). */
  include?: ReadonlySet<ListInclude>;
  /** x-ms-file-extended-info: each entry's FileId, and a file's length up to date. */
  extendedInfo?: boolean;
}

/** The service's timestamps: ISO 8601 with seven fractional digits. */
function fileTime(d: Date): string {
  return d.toISOString().replace(/\.(\d{3})Z$/, '.$10000Z');
}

/** One entry, with what the request included (element order as in the service's answer). */
function entryXml(e: ListedEntry, include: ReadonlySet<ListInclude>, extendedInfo: boolean): string {
  const tag = e.kind === 'file' ? 'File' : 'Directory';
  const props: string[] = [];
  if (e.kind === 'file') props.push(`<Content-Length>${e.size}</Content-Length>`);
  if (include.has('Timestamps')) {
    // No separate access or change times here: each is the last write.
    props.push(
      `<CreationTime>${fileTime(e.created)}</CreationTime>`,
      `<LastAccessTime>${fileTime(e.lastModified)}</LastAccessTime>`,
      `<LastWriteTime>${fileTime(e.lastModified)}</LastWriteTime>`,
      `<ChangeTime>${fileTime(e.lastModified)}</ChangeTime>`,
      `<Last-Modified>${e.lastModified.toUTCString()}</Last-Modified>`,
    );
  }
  if (include.has('Etag')) props.push(`<Etag>${xmlEscape(e.etag)}</Etag>`);
  const parts = [`<${tag}>`];
  if (extendedInfo) parts.push(`<FileId>${e.fileId}</FileId>`);
  parts.push(`<Name>${xmlEscape(e.name)}</Name>`, props.length > 0 ? `<Properties>${props.join('')}</Properties>` : '<Properties />');
  if (include.has('Attributes')) parts.push(`<Attributes>${e.kind === 'file' ? 'Archive' : 'Directory'}</Attributes>`);
  parts.push(`</${tag}>`);
  return parts.join('');
}

export function listDirectoryXml(p: ListPage): string {
  const parts: string[] = [
    `${PROLOG}<EnumerationResults ServiceEndpoint="${xmlEscape(p.serviceEndpoint)}" ShareName="${xmlEscape(p.share)}" DirectoryPath="${xmlEscape(p.directoryPath)}">`,
  ];
  if (p.prefix !== undefined) parts.push(`<Prefix>${xmlEscape(p.prefix)}</Prefix>`);
  if (p.marker !== undefined) parts.push(`<Marker>${xmlEscape(p.marker)}</Marker>`);
  if (p.maxResults !== undefined) parts.push(`<MaxResults>${p.maxResults}</MaxResults>`);
  parts.push('<Entries>');
  for (const e of p.entries) parts.push(entryXml(e, p.include ?? new Set(), p.extendedInfo ?? false));
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

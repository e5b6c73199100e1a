<?xml version="1.0" encoding="UTF-8"?>
<!--
  Shows an RSS 2.0 or Atom 1.0 feed written by broadsheet as a readable page
  when someone opens it in a browser: what a feed is, how to subscribe, and
  the entries it holds. Feed readers ignore this stylesheet.
-->
<xsl:stylesheet version="1.0"
    xmlns:xsl="http://www.w3.org/1999/XSL/Transform"
    xmlns:atom="http://www.w3.org/2005/Atom"
    xmlns:dc="http://purl.org/dc/elements/1.1/"
    exclude-result-prefixes="atom dc">

  <xsl:output method="html" version="5.0" encoding="UTF-8" indent="yes"
      doctype-system="about:legacy-compat"/>

  <!-- The feed's language picks the page's words: Russian, else English. -->
  <xsl:variable name="lang">
    <xsl:choose>
      <xsl:when test="/rss/channel/language"><xsl:value-of select="/rss/channel/language"/></xsl:when>
      <xsl:when test="/atom:feed/@xml:lang"><xsl:value-of select="/atom:feed/@xml:lang"/></xsl:when>
      <xsl:otherwise>en</xsl:otherwise>
    </xsl:choose>
  </xsl:variable>
  <xsl:variable name="ru" select="starts-with($lang, 'ru')"/>

  <xsl:variable name="title" select="/rss/channel/title | /atom:feed/atom:title"/>
  <xsl:variable name="description" select="/rss/channel/description | /atom:feed/atom:subtitle"/>
  <xsl:variable name="home" select="/rss/channel/link | /atom:feed/atom:link[@rel='alternate']/@href"/>
  <xsl:variable name="self" select="/rss/channel/atom:link[@rel='self']/@href | /atom:feed/atom:link[@rel='self']/@href"/>
  <xsl:variable name="logo" select="/rss/channel/image/url | /atom:feed/atom:logo"/>
  <xsl:variable name="archive" select="/rss/channel/*[local-name()='archive'] | /atom:feed/*[local-name()='archive']"/>
  <xsl:variable name="current" select="/rss/channel/atom:link[@rel='current']/@href | /atom:feed/atom:link[@rel='current']/@href"/>
  <xsl:variable name="older" select="/rss/channel/atom:link[@rel='prev-archive']/@href | /atom:feed/atom:link[@rel='prev-archive']/@href"/>

  <xsl:template match="/">
    <html lang="{$lang}">
      <head>
        <meta charset="utf-8"/>
        <meta name="viewport" content="width=device-width, initial-scale=1"/>
        <meta name="robots" content="noindex"/>
        <title>
          <xsl:value-of select="$title"/>
          <xsl:choose>
            <xsl:when test="$ru"> — RSS-лента</xsl:when>
            <xsl:otherwise> — web feed</xsl:otherwise>
          </xsl:choose>
        </title>
        <style>
          :root { color-scheme: light dark; --ink: #1d1d1f; --muted: #5f6368; --line: #e3e3e3; --accent: #b3261e; --paper: #fff; --note: #f6f3ee; }
          @media (prefers-color-scheme: dark) { :root { --ink: #ececec; --muted: #a8a8a8; --line: #3a3a3a; --paper: #151515; --note: #222; --accent: #ff7a70; } }
          * { box-sizing: border-box; }
          body { margin: 0; background: var(--paper); color: var(--ink); font: 17px/1.55 Georgia, "Times New Roman", serif; }
          main { max-width: 44rem; margin: 0 auto; padding: 2rem 1.25rem 4rem; }
          header img { max-height: 3rem; max-width: 12rem; }
          h1 { font-size: 2rem; line-height: 1.2; margin: .5rem 0; }
          .lede { color: var(--muted); margin-top: 0; }
          .note { background: var(--note); border-left: 4px solid var(--accent); padding: 1rem 1.25rem; margin: 1.5rem 0 2rem; font: 15px/1.5 system-ui, sans-serif; }
          .note h2 { font-size: 1rem; margin: 0 0 .5rem; }
          .note p { margin: .4rem 0; }
          .url { display: block; overflow-wrap: anywhere; padding: .4rem .6rem; margin: .5rem 0; background: var(--paper); border: 1px solid var(--line); border-radius: 4px; font: 14px/1.4 ui-monospace, Menlo, Consolas, monospace; user-select: all; }
          a { color: var(--accent); }
          ol { list-style: none; padding: 0; margin: 0; }
          li { border-top: 1px solid var(--line); padding: 1.1rem 0; }
          li h3 { font-size: 1.2rem; line-height: 1.3; margin: 0 0 .25rem; }
          li h3 a { color: var(--ink); text-decoration: none; }
          li h3 a:hover { text-decoration: underline; }
          .meta { color: var(--muted); font: 14px/1.4 system-ui, sans-serif; margin: 0 0 .35rem; }
          li p.summary { margin: 0; }
          nav.pages { display: flex; justify-content: space-between; gap: 1rem; margin-top: 2rem; font: 15px system-ui, sans-serif; }
        </style>
      </head>
      <body>
        <main>
          <header>
            <xsl:if test="$logo">
              <a href="{$home}"><img src="{$logo}" alt=""/></a>
            </xsl:if>
            <h1><xsl:value-of select="$title"/></h1>
            <p class="lede"><xsl:value-of select="$description"/></p>
          </header>

          <section class="note">
            <xsl:choose>
              <xsl:when test="$ru">
                <h2>Это RSS-лента</h2>
                <p>Лента — адрес, по которому программа для чтения новостей (Feedly, Inoreader, NetNewsWire, Miniflux и другие) сама проверяет, не вышло ли что-то новое. Подписка бесплатна и не требует ни почты, ни регистрации.</p>
                <p>Чтобы подписаться, скопируйте этот адрес и вставьте его в свою программу для чтения:</p>
              </xsl:when>
              <xsl:otherwise>
                <h2>This is a web feed</h2>
                <p>A feed is an address that a feed reader (Feedly, Inoreader, NetNewsWire, Miniflux and many more) checks for new articles, so they come to you. Subscribing is free and needs no e-mail address or account.</p>
                <p>To subscribe, copy this address into your feed reader:</p>
              </xsl:otherwise>
            </xsl:choose>
            <code class="url"><xsl:value-of select="$self"/></code>
            <xsl:if test="$archive">
              <p>
                <xsl:choose>
                  <xsl:when test="$ru">Это архивная страница ленты: она больше не меняется. Новые материалы — в </xsl:when>
                  <xsl:otherwise>This is an archive page of the feed: it no longer changes. New articles are in </xsl:otherwise>
                </xsl:choose>
                <a href="{$current}">
                  <xsl:choose>
                    <xsl:when test="$ru">текущей ленте</xsl:when>
                    <xsl:otherwise>the current feed</xsl:otherwise>
                  </xsl:choose>
                </a>.
              </p>
            </xsl:if>
            <p>
              <a href="{$home}">
                <xsl:choose>
                  <xsl:when test="$ru">На сайт</xsl:when>
                  <xsl:otherwise>Visit the website</xsl:otherwise>
                </xsl:choose>
              </a>
            </p>
          </section>

          <ol>
            <xsl:apply-templates select="/rss/channel/item | /atom:feed/atom:entry"/>
          </ol>

          <xsl:if test="$older">
            <nav class="pages">
              <a href="{$older}" rel="prev">
                <xsl:choose>
                  <xsl:when test="$ru">← Более ранние материалы</xsl:when>
                  <xsl:otherwise>← Older articles</xsl:otherwise>
                </xsl:choose>
              </a>
              <xsl:if test="$archive">
                <a href="{$current}">
                  <xsl:choose>
                    <xsl:when test="$ru">Новые материалы →</xsl:when>
                    <xsl:otherwise>Newest articles →</xsl:otherwise>
                  </xsl:choose>
                </a>
              </xsl:if>
            </nav>
          </xsl:if>
        </main>
      </body>
    </html>
  </xsl:template>

  <xsl:template match="item">
    <li>
      <h3><a href="{link}"><xsl:value-of select="title"/></a></h3>
      <p class="meta">
        <xsl:value-of select="substring(pubDate, 6, 11)"/>
        <xsl:for-each select="dc:creator">
          <xsl:choose>
            <xsl:when test="position() = 1"> · </xsl:when>
            <xsl:otherwise>, </xsl:otherwise>
          </xsl:choose>
          <xsl:value-of select="."/>
        </xsl:for-each>
      </p>
      <p class="summary"><xsl:value-of select="description"/></p>
    </li>
  </xsl:template>

  <xsl:template match="atom:entry">
    <li>
      <h3><a href="{atom:link[@rel='alternate'][1]/@href}"><xsl:value-of select="atom:title"/></a></h3>
      <p class="meta">
        <xsl:value-of select="substring(atom:published, 1, 10)"/>
        <xsl:for-each select="atom:author">
          <xsl:choose>
            <xsl:when test="position() = 1"> · </xsl:when>
            <xsl:otherwise>, </xsl:otherwise>
          </xsl:choose>
          <xsl:value-of select="atom:name"/>
        </xsl:for-each>
      </p>
      <p class="summary"><xsl:value-of select="atom:summary"/></p>
    </li>
  </xsl:template>
</xsl:stylesheet>

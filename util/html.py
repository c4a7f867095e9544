"""A minimal HTML page of image rows, written with dominate."""
import os

import dominate
from dominate.tags import a, br, caption, div, h2, h3, img, meta, p, style, table, td, th, tr

from util.util import mkdirs

PAGE_STYLE = '''
body { font-family: sans-serif; margin: 16px; }
table#metrics { border-collapse: collapse; margin-bottom: 8px; }
table#metrics td, table#metrics th { border: 1px solid #999; padding: 2px 10px; text-align: right; }
table#metrics tr:last-child td { font-weight: bold; }
table#metrics caption { text-align: left; font-weight: bold; padding-bottom: 4px; }
h3 { margin: 18px 0 4px; }
'''


class HTML:
    """A page at <web_dir>/index.html whose images live in <web_dir>/images/.

    A summary section sits above the image rows, so results known only at the end can still go first.
    """

    def __init__(self, web_dir: str, title: str, refresh: int = 0):
        self.web_dir = web_dir
        self.img_dir = os.path.join(web_dir, 'images')
        mkdirs(self.web_dir, self.img_dir)
        self.doc = dominate.document(title=title)
        with self.doc.head:
            style(PAGE_STYLE)
            if refresh > 0:
                meta(http_equiv='refresh', content=str(refresh))
        with self.doc:
            h2(title)
            self.summary = div(id='summary')

    def get_image_dir(self) -> str:
        return self.img_dir

    def add_header(self, text: str) -> None:
        with self.doc:
            h3(text)

    def add_summary_text(self, text: str) -> None:
        self.summary.add(p(text))

    def add_summary_image(self, name: str, width: int) -> None:
        """An image from the images folder, e.g. a plot, in the summary section."""
        self.summary.add(img(style=f'width:{width}px; vertical-align:top', src=os.path.join('images', name)))

    def add_summary_table(self, table_id: str, title: str, header: list[str], rows: list[list[str]]) -> None:
        with self.summary:
            with table(id=table_id):
                caption(title)
                with tr():
                    for text in header:
                        th(text)
                for row in rows:
                    with tr():
                        for text in row:
                            td(text)

    def add_images(self, ims: list[str], txts: list[str], links: list[str], width: int = 400) -> None:
        """Add one table row; `ims` and `links` are paths relative to the images folder."""
        with self.doc:
            with table(border=1, style='table-layout: fixed;'):
                with tr():
                    for im, txt, link in zip(ims, txts, links):
                        with td(style='word-wrap: break-word;', halign='center', valign='top'):
                            with p():
                                with a(href=os.path.join('images', link)):
                                    img(style=f'width:{width}px', src=os.path.join('images', im))
                                br()
                                p(txt)

    def save(self) -> str:
        path = os.path.join(self.web_dir, 'index.html')
        with open(path, 'wt') as html_file:
            html_file.write(self.doc.render())
        return path

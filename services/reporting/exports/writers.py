"""CSV and XLSX writers that take rows one at a time and give bytes in chunks: memory does not grow with rows."""

from __future__ import annotations

import csv
import io
import tempfile
from collections.abc import AsyncIterator, Sequence
from typing import Any

import xlsxwriter

CHUNK_BYTES = 64 * 1024


def _cell(value: Any) -> Any:
    return "" if value is None else value


async def csv_chunks(
    watermark: str, columns: Sequence[str], rows: AsyncIterator[Sequence[Any]]
) -> AsyncIterator[bytes]:
    """The watermark as a comment line, the header, then the rows, in chunks of about CHUNK_BYTES."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    buffer.write(f"# {watermark}\n")
    writer.writerow(columns)
    async for row in rows:
        writer.writerow([_cell(v) for v in row])
        if buffer.tell() >= CHUNK_BYTES:
            yield buffer.getvalue().encode()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue().encode()


async def xlsx_chunks(
    watermark: str, columns: Sequence[str], rows: AsyncIterator[Sequence[Any]]
) -> AsyncIterator[bytes]:
    """A workbook written row by row to a temporary file (xlsxwriter's constant_memory), then read back in chunks.

    An XLSX is a zip whose directory comes last, so it cannot be sent before it is complete; the rows never sit in
    memory, only in the file.
    """
    with tempfile.TemporaryFile() as spool:
        book = xlsxwriter.Workbook(spool, {"constant_memory": True, "in_memory": False})
        book.set_properties({"title": "CRM report export", "comments": watermark})
        sheet = book.add_worksheet("report")
        sheet.write_row(0, 0, [watermark])
        sheet.write_row(1, 0, list(columns))
        line = 2
        async for row in rows:
            sheet.write_row(line, 0, [_cell(v) for v in row])
            line += 1
        book.close()
        spool.seek(0)
        while chunk := spool.read(CHUNK_BYTES):
            yield chunk


WRITERS = {"csv": csv_chunks, "xlsx": xlsx_chunks}

import { render } from 'preact';
import { fetchConfig } from './api';
import { App } from './app';
import './styles.css';

const root = document.getElementById('app')!;

fetchConfig().then(
  (config) => render(<App config={config} />, root),
  (err: Error) => {
    root.textContent = `The gateway's /api/config did not answer (${err.message}). Is the gateway running?`;
    root.setAttribute('role', 'alert');
  },
);
